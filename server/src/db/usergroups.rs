//! SQL for `usergroups` and the memberships sign-ins record in `usergroup_users`.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms, placeholders};
use frontend::types::GroupType;

/// A stored user group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserGroupRow {
    /// Row id (Harbor's group `id`).
    pub id: i64,
    /// The name people read.
    pub group_name: String,
    /// Where the group comes from.
    #[sqlx(try_from = "i64")]
    pub group_type: GroupType,
    /// The directory DN of an LDAP group; empty for the others.
    pub ldap_group_dn: String,
}

const COLUMNS: &str = "id, group_name, group_type, ldap_group_dn";

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<UserGroupRow> {
    Ok(<UserGroupRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

/// What makes a group unique: its type and, for LDAP, its DN without case, else its name.
fn key(group_type: GroupType, name: &str, dn: &str) -> String {
    match group_type {
        GroupType::Ldap => format!("{}:{}", group_type.id(), dn.to_lowercase()),
        _ => format!("{}:{name}", group_type.id()),
    }
}

/// The filter of [`list`] and [`count`]: $1 a name pattern, $2 an exact DN (or empty).
const FILTER: &str = "WHERE group_name LIKE $1 ESCAPE '\\' AND ($2 = '' OR lower(ldap_group_dn) = lower($2))";

/// Groups whose name contains `name` (and with DN `dn` when not empty), by name, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    dn: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<UserGroupRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM usergroups {FILTER} ORDER BY group_name, id LIMIT $3 OFFSET $4"
    ))
    .bind(format!("%{}%", super::like_escape(name)))
    .bind(dn)
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?;
    rows.iter().map(from_row).collect()
}

/// How many groups [`list`] would return without paging.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, name: &str, dn: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM usergroups {FILTER}"))
        .bind(format!("%{}%", super::like_escape(name)))
        .bind(dn)
        .fetch_one(e)
        .await?)
}

/// One group.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<UserGroupRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM usergroups WHERE id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The groups (of any type) called exactly `name`.
pub async fn named<'e>(e: impl Executor<'e, Database = Any>, name: &str) -> DbResult<Vec<UserGroupRow>> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM usergroups WHERE group_name = $1 ORDER BY group_type"))
            .bind(name)
            .fetch_all(e)
            .await?;
    rows.iter().map(from_row).collect()
}

/// Creates a group; a unique violation means it exists.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
    group_type: GroupType,
    dn: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO usergroups (group_name, group_type, ldap_group_dn, group_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(name)
    .bind(group_type.id())
    .bind(dn)
    .bind(key(group_type, name, dn))
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Renames group `id` (its key follows the name unless it is an LDAP group); returns whether it
/// exists. A unique violation means another group of the type has the name.
pub async fn rename<'e>(e: impl Executor<'e, Database = Any>, id: i64, name: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE usergroups SET group_name = $1, updated_at = $2, \
         group_key = CASE WHEN group_type = 1 THEN group_key ELSE CAST(group_type AS TEXT) || ':' || $1 END \
         WHERE id = $3",
    )
    .bind(name)
    .bind(now_ms())
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes group `id` and its project memberships; returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM usergroups WHERE id = $1").bind(id).execute(e).await?;
    Ok(done.rows_affected() == 1)
}

/// The ids of the groups of `group_type` named by `groups` (name, DN), creating those missing:
/// a sign-in brings its groups along, as Harbor's does.
pub async fn ensure(
    tx: &mut sqlx::AnyConnection,
    group_type: GroupType,
    groups: &[(String, String)],
) -> DbResult<Vec<i64>> {
    let now = now_ms();
    let mut ids = Vec::with_capacity(groups.len());
    for (name, dn) in groups {
        let k = key(group_type, name, dn);
        sqlx::query(
            "INSERT INTO usergroups (group_name, group_type, ldap_group_dn, group_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (group_key) DO NOTHING",
        )
        .bind(name)
        .bind(group_type.id())
        .bind(dn)
        .bind(&k)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        ids.push(
            sqlx::query_scalar("SELECT id FROM usergroups WHERE group_key = $1")
                .bind(&k)
                .fetch_one(&mut *tx)
                .await?,
        );
    }
    Ok(ids)
}

/// Makes `ids` the groups of `group_type` user `user_id` is in (what their last sign-in said).
pub async fn set_memberships(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    group_type: GroupType,
    ids: &[i64],
) -> DbResult<()> {
    let keep = if ids.is_empty() {
        String::new()
    } else {
        format!(" AND group_id NOT IN ({})", placeholders(3, ids.len()))
    };
    let sql = format!(
        "DELETE FROM usergroup_users WHERE user_id = $1 \
         AND group_id IN (SELECT id FROM usergroups WHERE group_type = $2){keep}"
    );
    let mut q = sqlx::query(&sql).bind(user_id).bind(group_type.id());
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(&mut *tx).await?;
    for id in ids {
        sqlx::query(
            "INSERT INTO usergroup_users (group_id, user_id) VALUES ($1, $2) ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(*id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The groups user `user_id` is in, by name.
pub async fn of_user<'e>(e: impl Executor<'e, Database = Any>, user_id: i64) -> DbResult<Vec<UserGroupRow>> {
    let rows = sqlx::query(
        "SELECT g.id AS id, g.group_name AS group_name, g.group_type AS group_type, g.ldap_group_dn AS ldap_group_dn \
         FROM usergroups g JOIN usergroup_users gu ON gu.group_id = g.id WHERE gu.user_id = $1 ORDER BY g.group_name",
    )
    .bind(user_id)
    .fetch_all(e)
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sign_ins_create_groups_once_and_replace_memberships() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db =
            crate::db::Db::connect(&format!("sqlite://{}/t.db", dir.path().display())).await.expect("db");
        let alice = crate::db::users::onboard(db.writer(), "alice", "", "", false).await.expect("user").id;
        let devs = ("developers".to_owned(), "cn=developers,ou=groups,dc=example,dc=org".to_owned());
        let ops = ("ops".to_owned(), "cn=ops,ou=groups,dc=example,dc=org".to_owned());

        let mut tx = db.begin().await.expect("tx");
        let first = ensure(&mut tx, GroupType::Ldap, &[devs.clone(), ops.clone()]).await.expect("ensure");
        set_memberships(&mut tx, alice, GroupType::Ldap, &first).await.expect("set");
        tx.commit().await.expect("commit");
        assert_eq!(of_user(db.reader(), alice).await.expect("of").len(), 2);

        // The same DN in other case is the same group; the next sign-in drops `ops`.
        let upper = ("Developers".to_owned(), devs.1.to_uppercase());
        let mut tx = db.begin().await.expect("tx");
        let again = ensure(&mut tx, GroupType::Ldap, &[upper]).await.expect("ensure");
        assert_eq!(again, vec![first[0]]);
        set_memberships(&mut tx, alice, GroupType::Ldap, &again).await.expect("set");
        tx.commit().await.expect("commit");
        let now: Vec<String> =
            of_user(db.reader(), alice).await.expect("of").into_iter().map(|g| g.group_name).collect();
        assert_eq!(now, ["developers"]);
        assert_eq!(count(db.reader(), "", "").await.expect("count"), 2, "groups outlive memberships");

        // An OIDC group of the same name is another group; its memberships are kept apart.
        let mut tx = db.begin().await.expect("tx");
        let oidc =
            ensure(&mut tx, GroupType::Oidc, &[("developers".into(), String::new())]).await.expect("e");
        assert_ne!(oidc, again);
        set_memberships(&mut tx, alice, GroupType::Oidc, &oidc).await.expect("set");
        set_memberships(&mut tx, alice, GroupType::Ldap, &[]).await.expect("set");
        tx.commit().await.expect("commit");
        let left = of_user(db.reader(), alice).await.expect("of");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].group_type, GroupType::Oidc);
    }
}
