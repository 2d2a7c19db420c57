//! SQL for `project_members`.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms};
use frontend::types::{GroupType, Role};

/// A member as listed: a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    /// Membership id (Harbor's member `id`).
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The user's or the group's id.
    pub entity_id: i64,
    /// The user's or the group's name.
    pub entity_name: String,
    /// The group's type; `None` for a user.
    #[sqlx(try_from = "i64")]
    pub group_type: MemberKind,
    /// The role.
    #[sqlx(rename = "role_id", try_from = "i64")]
    pub role: Role,
}

/// Whether a membership is a user's (`None`) or a group's (its type), read from the stored
/// group type (0 for a user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberKind(pub Option<GroupType>);

impl TryFrom<i64> for MemberKind {
    type Error = frontend::types::UnknownWord;

    fn try_from(t: i64) -> Result<Self, Self::Error> {
        if t == 0 { Ok(Self(None)) } else { GroupType::try_from(t).map(|g| Self(Some(g))) }
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> DbResult<MemberRow> {
    Ok(<MemberRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

const SELECT: &str = "SELECT pm.id AS id, pm.project_id AS project_id, \
     COALESCE(pm.user_id, pm.group_id) AS entity_id, COALESCE(u.username, g.group_name) AS entity_name, \
     COALESCE(g.group_type, 0) AS group_type, pm.role_id AS role_id FROM project_members pm \
     LEFT JOIN users u ON u.id = pm.user_id LEFT JOIN usergroups g ON g.id = pm.group_id";

/// The member a membership is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A user, by id.
    User(i64),
    /// A user group, by id.
    Group(i64),
}

/// Makes `entity` a member of `project_id` with `role`; returns the membership id.
pub async fn add<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    entity: Entity,
    role: Role,
) -> DbResult<i64> {
    let (user, group) = match entity {
        Entity::User(id) => (Some(id), None),
        Entity::Group(id) => (None, Some(id)),
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO project_members (project_id, user_id, group_id, role_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(user)
    .bind(group)
    .bind(role.id())
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// SQL for the role of user `user` in project `project` (both SQL expressions): the strongest
/// of their own membership's and their groups' (a correlated subquery, NULL for none).
pub fn role_of(project: &str, user: &str) -> String {
    format!(
        "(SELECT m.role_id FROM project_members m WHERE m.project_id = {project} AND (m.user_id = {user} \
         OR m.group_id IN (SELECT ug.group_id FROM usergroup_users ug WHERE ug.user_id = {user})) \
         ORDER BY {} LIMIT 1)",
        strongest_first("m.role_id")
    )
}

/// SQL for whether user `user` is a member of project `project`, themselves or through a group.
pub fn is_member(project: &str, user: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = {project} AND (m.user_id = {user} \
         OR m.group_id IN (SELECT ug.group_id FROM usergroup_users ug WHERE ug.user_id = {user})))"
    )
}

/// SQL ordering role ids in `column` strongest first (Harbor's ids are not in that order).
fn strongest_first(column: &str) -> String {
    let arms: String =
        Role::ALL.iter().enumerate().map(|(rank, r)| format!(" WHEN {} THEN {rank}", r.id())).collect();
    format!("CASE {column}{arms} END")
}

/// Members of a project whose name contains `name` (all when empty), by name, one page.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<MemberRow>> {
    let sql = format!(
        "{SELECT} WHERE pm.project_id = $1 AND COALESCE(u.username, g.group_name) LIKE $2 ESCAPE '\\' \
         ORDER BY COALESCE(g.group_type, 0), COALESCE(u.username, g.group_name) LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(format!("%{}%", super::like_escape(name)))
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many members [`list`] would return without paging.
pub async fn count<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM project_members pm LEFT JOIN users u ON u.id = pm.user_id \
         LEFT JOIN usergroups g ON g.id = pm.group_id \
         WHERE pm.project_id = $1 AND COALESCE(u.username, g.group_name) LIKE $2 ESCAPE '\\'",
    )
    .bind(project_id)
    .bind(format!("%{}%", super::like_escape(name)))
    .fetch_one(e)
    .await?)
}

/// One membership of a project.
pub async fn get<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
) -> DbResult<Option<MemberRow>> {
    let sql = format!("{SELECT} WHERE pm.project_id = $1 AND pm.id = $2");
    let row = sqlx::query(&sql).bind(project_id).bind(id).fetch_optional(e).await?;
    row.as_ref().map(from_row).transpose()
}

/// Changes a member's role; returns whether the membership exists.
pub async fn set_role<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    id: i64,
    role: Role,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE project_members SET role_id = $1, updated_at = $2 WHERE project_id = $3 AND id = $4",
    )
    .bind(role.id())
    .bind(now_ms())
    .bind(project_id)
    .bind(id)
    .execute(e)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a membership; returns whether it existed.
pub async fn remove<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, id: i64) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many members project `project_id` has in each role: (role id, count).
pub async fn role_counts<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
) -> DbResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as("SELECT role_id, COUNT(*) FROM project_members WHERE project_id = $1 GROUP BY role_id")
        .bind(project_id)
        .fetch_all(e)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memberships_survive_the_upgrade_that_lets_groups_be_members() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
        let mut before = sqlx::migrate!("../migrations/sqlite");
        before.migrations = before.migrations.iter().filter(|m| m.version <= 22).cloned().collect();
        before.run(&pool).await.expect("migrations up to 0022");
        for sql in [
            "INSERT INTO projects (name, public, created_at, updated_at) VALUES ('p', 0, 0, 0)",
            "INSERT INTO users (username, email, realname, password_hash, sysadmin, created_at, updated_at) \
             VALUES ('u', '', '', 'x', 0, 0, 0)",
            "INSERT INTO project_members (id, project_id, user_id, role_id, created_at, updated_at) VALUES (7, 1, 1, 2, 0, 0)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
        let db = crate::db::Db::connect(&url).await.expect("upgrade");
        let kept = get(db.reader(), 1, 7).await.expect("get").expect("member");
        assert_eq!((kept.entity_name.as_str(), kept.group_type.0, kept.role), ("u", None, Role::Developer));
        // New memberships, of users or groups, take ids after the old ones.
        let mut tx = db.begin().await.expect("tx");
        let g = crate::db::usergroups::ensure(&mut tx, GroupType::Http, &[("g".into(), String::new())])
            .await
            .expect("group")[0];
        let id = add(&mut *tx, 1, Entity::Group(g), Role::Guest).await.expect("add");
        tx.commit().await.expect("commit");
        assert!(id > 7);
        let user_role: Option<i64> = sqlx::query_scalar(&format!("SELECT {}", role_of("1", "1")))
            .fetch_one(db.reader())
            .await
            .expect("role");
        assert_eq!(user_role, Some(2));
    }
}
