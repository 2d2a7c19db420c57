//! Tag immutability: Harbor's per-project rules (`/projects/{p}/immutabletagrules`). A tag an
//! enabled rule matches cannot be moved to another manifest, deleted, or lose its artifact, by
//! anyone, until the rule is disabled or deleted. The registry reads the rules' version inside
//! the transaction that writes or deletes the tag, under the lock of the project's quota row
//! that rule changes take too ([`crate::db::immutable::begin_change`]), so the check and the
//! write cannot be separated by a racing push or a rule change; the compiled rules of that
//! version come from memory ([`RulesCache`]).
//!
//! A rule may also name labels (Harbor's `label` tag selector): a tag is then immutable while
//! the artifact it names carries (or lacks) them, so labelling a build `release` freezes its
//! tags. A tag that does not exist yet can always be created.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::auth::{Action, Identity};
use crate::db::{self, Db};
use crate::projects::{ProjectError, ProjectRef, Projects};
use crate::retention::policy::{LabelSelector, Selection, SelectorDoc, label_selector, selectors};

/// Harbor's limit on rules per project.
pub const MAX_RULES: i64 = 15;

/// Harbor's only action and template for these rules.
const ACTION: &str = "immutable";
const TEMPLATE: &str = "immutable_template";

/// Harbor's `ImmutableRule`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ImmutableRuleDoc {
    /// Rule id (answers only).
    #[serde(default)]
    pub id: i64,
    /// Kept as given; every enabled rule protects whatever its order.
    #[serde(default)]
    pub priority: i64,
    /// A disabled rule protects nothing.
    #[serde(default)]
    pub disabled: bool,
    /// Always `immutable`.
    #[serde(default = "action")]
    pub action: String,
    /// Always `immutable_template`.
    #[serde(default = "template")]
    pub template: String,
    /// Unused by this template.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Tag selectors (all must select).
    #[serde(default)]
    pub tag_selectors: Vec<SelectorDoc>,
    /// `{"repository": [selectors]}` (all must select).
    #[serde(default)]
    pub scope_selectors: BTreeMap<String, Vec<SelectorDoc>>,
}

fn action() -> String {
    ACTION.into()
}

fn template() -> String {
    TEMPLATE.into()
}

/// What is stored of a rule besides its flags.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Stored {
    tag_selectors: Vec<SelectorDoc>,
    scope_selectors: BTreeMap<String, Vec<SelectorDoc>>,
}

impl ImmutableRuleDoc {
    fn stored(&self) -> Result<String, ImmutableError> {
        if !self.action.is_empty() && self.action != ACTION {
            return Err(ImmutableError::Invalid(format!(
                "action {:?} is not supported (use immutable)",
                self.action
            )));
        }
        if !self.template.is_empty() && self.template != TEMPLATE {
            return Err(ImmutableError::Invalid(format!(
                "template {:?} is not supported (use immutable_template)",
                self.template
            )));
        }
        selectors(1, &self.scope_selectors, &self.tag_selectors)
            .map_err(|e| ImmutableError::Invalid(e.to_string().replacen("rule 1: ", "", 1)))?;
        let stored = Stored {
            tag_selectors: self.tag_selectors.clone(),
            scope_selectors: self.scope_selectors.clone(),
        };
        Ok(serde_json::to_string(&stored).expect("selectors serialize"))
    }

    /// The rule the portal's form describes: one repository selector and one tag selector.
    pub fn from_form(form: &frontend::types::NewImmutableRule) -> Self {
        let selector = |decoration: &str, pattern: &str| SelectorDoc {
            kind: "doublestar".into(),
            decoration: decoration.into(),
            pattern: pattern.into(),
            extras: String::new(),
        };
        Self {
            action: action(),
            template: template(),
            tag_selectors: std::iter::once(selector(
                if form.tag_excludes { "excludes" } else { "matches" },
                &form.tag_pattern,
            ))
            .chain(label_selector(&form.labels))
            .collect(),
            scope_selectors: [(
                "repository".to_owned(),
                vec![selector(
                    if form.repo_excludes { "repoExcludes" } else { "repoMatches" },
                    &form.repo_pattern,
                )],
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        }
    }

    fn from_row(row: &db::immutable::RuleRow) -> Self {
        let stored: Option<Stored> = serde_json::from_str(&row.selectors).ok();
        let (tag_selectors, scope_selectors) =
            stored.map(|s| (s.tag_selectors, s.scope_selectors)).unwrap_or_default();
        Self {
            id: row.id,
            priority: row.priority,
            disabled: row.disabled,
            action: action(),
            template: template(),
            params: BTreeMap::new(),
            tag_selectors,
            scope_selectors,
        }
    }

    /// The rule in plain words, as the portal shows it.
    pub fn describe(&self) -> String {
        let words = |list: &[SelectorDoc], not: &str| {
            list.iter()
                .map(|s| {
                    if s.kind == "label" {
                        let without = s.decoration == "withoutLabels";
                        return LabelSelector::new(without, [s.pattern.as_str()])
                            .map(|l| l.describe())
                            .unwrap_or_default();
                    }
                    let neg = if s.decoration == not { "not matching" } else { "matching" };
                    format!("{neg} `{}`", s.pattern)
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let repos = self.scope_selectors.get("repository").map(Vec::as_slice).unwrap_or_default();
        format!(
            "tags {} in repositories {}",
            words(&self.tag_selectors, "excludes"),
            words(repos, "repoExcludes")
        )
    }
}

/// A project's enabled rules, compiled.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    rules: Vec<Selection>,
}

impl Protection {
    /// Compiles stored rules. They were checked when saved; one that no longer compiles (a
    /// pattern rule tightened since) is logged and protects nothing rather than blocking every
    /// push.
    pub fn compile(stored: &[String]) -> Self {
        let rules = stored
            .iter()
            .filter_map(|text| {
                let s: Stored = serde_json::from_str(text).ok()?;
                match selectors(1, &s.scope_selectors, &s.tag_selectors) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an immutability rule that no longer compiles");
                        None
                    }
                }
            })
            .collect();
        Self { rules }
    }

    /// Project `project_id`'s enabled rules as they stand (listings and retention's plan; the
    /// registry and retention's deletes read them again inside their transactions).
    pub async fn load(db: &Db, project_id: i64) -> Result<Self, db::DbError> {
        let rows = db::immutable::list(db.reader(), project_id).await?;
        let enabled: Vec<String> = rows.into_iter().filter(|r| !r.disabled).map(|r| r.selectors).collect();
        Ok(Self::compile(&enabled))
    }

    /// Whether no rule is enabled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule looks at labels (callers then read the artifact's labels).
    pub fn uses_labels(&self) -> bool {
        self.rules.iter().any(|r| !r.labels.is_empty())
    }

    /// Whether tag `tag` of repository `path` (the name inside the project), naming an artifact
    /// that carries `labels`, is immutable.
    pub fn protects(&self, path: &str, tag: &str, labels: &[&str]) -> bool {
        self.rules.iter().any(|r| r.repository(path) && r.artifact(&[tag], labels))
    }

    /// Whether tag `tag` of repository `path` is immutable for some labels of its artifact: the
    /// write path takes the careful route only for these.
    pub fn may_protect(&self, path: &str, tag: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.repository(path) && r.tags.iter().all(|t| t.selects(std::iter::once(tag))))
    }

    /// The first of `tags` (of one artifact carrying `labels`) that is immutable in repository
    /// `path`.
    pub fn first_protected<'a>(&self, path: &str, tags: &'a [String], labels: &[&str]) -> Option<&'a str> {
        if self.is_empty() {
            return None;
        }
        tags.iter().map(String::as_str).find(|t| self.protects(path, t, labels))
    }
}

/// Each project's compiled rules at the version last read, so a push pays for reading and
/// compiling them only after they change. Correct across replicas because the version is read
/// under the project's row lock in the transaction that uses it: a stale entry has an older
/// version and is replaced.
#[derive(Clone, Default)]
pub struct RulesCache(Arc<Mutex<HashMap<i64, Versioned>>>);

/// Rules at a version.
type Versioned = (i64, Arc<Protection>);

/// Projects whose rules are kept; past it the cache starts again (a handful of projects have
/// rules; this bounds memory, not hits).
const CACHED_PROJECTS: usize = 4096;

impl RulesCache {
    /// Project `project_id`'s enabled rules as `lock` (read in `tx`) says they stand; `None`
    /// when none is enabled.
    pub async fn get(
        &self,
        tx: &mut sqlx::AnyConnection,
        project_id: i64,
        lock: &db::quotas::QuotaLock,
    ) -> Result<Option<Arc<Protection>>, db::DbError> {
        if !lock.rules {
            return Ok(None);
        }
        if let Some((version, rules)) = self.0.lock().expect("rules cache").get(&project_id)
            && *version == lock.rules_version
        {
            return Ok(Some(rules.clone()));
        }
        let rules = Arc::new(Protection::compile(&db::immutable::enabled_in(tx, project_id).await?));
        let mut cache = self.0.lock().expect("rules cache");
        if cache.len() >= CACHED_PROJECTS {
            cache.clear();
        }
        cache.insert(project_id, (lock.rules_version, rules.clone()));
        Ok(Some(rules))
    }

    /// Locks project `project_id`'s quota row in `tx` (a delete is about to change it) and
    /// returns its enabled rules.
    pub async fn locked(
        &self,
        tx: &mut sqlx::AnyConnection,
        backend: db::Backend,
        project_id: i64,
    ) -> Result<Option<Arc<Protection>>, db::DbError> {
        let lock = db::quotas::lock(tx, backend, project_id).await?;
        self.get(tx, project_id, &lock).await
    }
}

/// Why a rule change failed.
#[derive(Debug, thiserror::Error)]
pub enum ImmutableError {
    /// The project, or the caller's access to it.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The rule breaks Harbor's rules (400).
    #[error("{0}")]
    Invalid(String),
    /// The project has this rule already, or its limit of rules (409).
    #[error("{0}")]
    Conflict(String),
    /// No such rule (404).
    #[error("immutability rule {0} not found")]
    NotFound(i64),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<db::DbError> for ImmutableError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

/// The rules' service: who may read and change them, and their limits.
#[derive(Clone)]
pub struct Immutability {
    db: Db,
    projects: Projects,
}

impl Immutability {
    /// The service over `db`.
    pub fn new(db: Db, projects: Projects) -> Self {
        Self { db, projects }
    }

    /// The rules of project `r`, for anyone who may see the project.
    pub async fn list(
        &self,
        who: &Identity,
        r: &ProjectRef,
    ) -> Result<Vec<ImmutableRuleDoc>, ImmutableError> {
        let p = self.projects.get(who, r, Action::ReadProject).await?;
        let rows = db::immutable::list(self.db.reader(), p.id).await?;
        Ok(rows.iter().map(ImmutableRuleDoc::from_row).collect())
    }

    /// Adds a rule to project `r` (maintainers and project administrators); returns its id.
    pub async fn create(
        &self,
        who: &Identity,
        r: &ProjectRef,
        doc: &ImmutableRuleDoc,
    ) -> Result<i64, ImmutableError> {
        let p = self.projects.get(who, r, Action::ManageImmutability).await?;
        let stored = doc.stored()?;
        let mut tx = self.db.begin().await?;
        db::immutable::begin_change(&mut tx, p.id).await?;
        let rows = db::immutable::list(&mut *tx, p.id).await?;
        if rows.len() as i64 >= MAX_RULES {
            return Err(ImmutableError::Conflict(format!(
                "project {} has {MAX_RULES} immutability rules, the most it may have",
                p.name
            )));
        }
        if rows.iter().any(|row| same(&row.selectors, &stored)) {
            return Err(ImmutableError::Conflict("the project has this rule already".into()));
        }
        let id = db::immutable::insert(&mut *tx, p.id, doc.priority, doc.disabled, &stored).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(id)
    }

    /// Changes rule `id` of project `r`, or switches it on or off.
    pub async fn update(
        &self,
        who: &Identity,
        r: &ProjectRef,
        id: i64,
        doc: &ImmutableRuleDoc,
    ) -> Result<(), ImmutableError> {
        let p = self.projects.get(who, r, Action::ManageImmutability).await?;
        let mut tx = self.db.begin().await?;
        db::immutable::begin_change(&mut tx, p.id).await?;
        let rows = db::immutable::list(&mut *tx, p.id).await?;
        let current = rows.iter().find(|row| row.id == id).ok_or(ImmutableError::NotFound(id))?;
        // Harbor's portal switches a rule with a body that has only `id` and `disabled`; keep
        // the selectors then.
        let stored = if doc.tag_selectors.is_empty() && doc.scope_selectors.is_empty() {
            current.selectors.clone()
        } else {
            doc.stored()?
        };
        if rows.iter().any(|row| row.id != id && same(&row.selectors, &stored)) {
            return Err(ImmutableError::Conflict("the project has this rule already".into()));
        }
        db::immutable::update(&mut *tx, p.id, id, doc.priority, doc.disabled, &stored).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(())
    }

    /// Deletes rule `id` of project `r`.
    pub async fn delete(&self, who: &Identity, r: &ProjectRef, id: i64) -> Result<(), ImmutableError> {
        let p = self.projects.get(who, r, Action::ManageImmutability).await?;
        let mut tx = self.db.begin().await?;
        db::immutable::begin_change(&mut tx, p.id).await?;
        if !db::immutable::delete(&mut *tx, p.id, id).await? {
            return Err(ImmutableError::NotFound(id));
        }
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(())
    }
}

/// Whether two stored rules select the same tags.
fn same(a: &str, b: &str) -> bool {
    let parse = |t: &str| serde_json::from_str::<Stored>(t).ok();
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(repo: &str, tag: &str) -> ImmutableRuleDoc {
        serde_json::from_value(serde_json::json!({
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tag}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repo}]}
        }))
        .expect("rule")
    }

    #[test]
    fn protects_what_the_selectors_choose() {
        let p = Protection::compile(&[rule("app/**", "v*").stored().expect("valid")]);
        assert!(p.protects("app/web", "v1.0", &[]));
        assert!(!p.protects("app/web", "latest", &[]));
        assert!(!p.protects("other", "v1.0", &[]));
        let tags = vec!["latest".to_owned(), "v2".to_owned()];
        assert_eq!(p.first_protected("app/x", &tags, &[]), Some("v2"));
        assert!(!p.uses_labels());
        assert!(Protection::compile(&[]).is_empty());
    }

    #[test]
    fn excludes_and_braces() {
        let mut doc = rule("**", "{latest,dev}");
        doc.tag_selectors[0].decoration = "excludes".into();
        let p = Protection::compile(&[doc.stored().expect("valid")]);
        assert!(p.protects("a", "1.0", &[]));
        assert!(!p.protects("a", "latest", &[]));
    }

    #[test]
    fn label_rules_protect_labelled_artifacts_only() {
        let mut doc = rule("**", "**");
        doc.tag_selectors.push(SelectorDoc {
            kind: "label".into(),
            decoration: "withLabels".into(),
            pattern: "release".into(),
            extras: String::new(),
        });
        let p = Protection::compile(&[doc.stored().expect("valid")]);
        assert!(p.uses_labels());
        assert!(p.may_protect("a", "v1"));
        assert!(p.protects("a", "v1", &["release", "qa"]));
        assert!(!p.protects("a", "v1", &["qa"]));
        assert!(!p.protects("a", "v1", &[]));
    }

    #[test]
    fn refuses_what_harbor_refuses() {
        let mut doc = rule("**", "**");
        doc.action = "retain".into();
        assert!(doc.stored().is_err());
        let mut doc = rule("**", "**");
        doc.scope_selectors.clear();
        assert!(doc.stored().expect_err("refused").to_string().contains("repository selector"));
        let mut doc = rule("**", "[");
        doc.template = String::new();
        assert!(doc.stored().is_err());
        // Defaults when a client leaves the words out.
        let doc: ImmutableRuleDoc = serde_json::from_str(r#"{"tag_selectors":[]}"#).expect("json");
        assert_eq!((doc.action.as_str(), doc.template.as_str()), (ACTION, TEMPLATE));
    }

    #[test]
    fn same_rule_detected() {
        let a = rule("**", "v*").stored().expect("valid");
        let b = rule("**", "v*").stored().expect("valid");
        assert!(same(&a, &b));
        assert!(!same(&a, &rule("**", "x").stored().expect("valid")));
    }
}
