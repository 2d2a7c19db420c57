//! Labels, Harbor's: global ones (system administrators create them; anyone signed in sees
//! them) and project ones (maintainers and project administrators), attached to artifacts by
//! whoever may push to the artifact's project. An artifact may carry global labels and labels of
//! its own project only.

use crate::auth::{Action, Identity};
use crate::db::labels::{LabelFields, LabelRow};
use crate::db::{self, Db};
use crate::projects::{ProjectError, ProjectRef, Projects};

/// Harbor's scope words.
const GLOBAL: &str = "g";
const PROJECT: &str = "p";

/// Why a label call failed.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The project, or the caller's access to it.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The request breaks the rules (400).
    #[error("{0}")]
    Invalid(String),
    /// The name is taken in its scope (409).
    #[error("{0}")]
    Conflict(String),
    /// No such label or artifact (404).
    #[error("{0} not found")]
    NotFound(String),
    /// A database failure.
    #[error("database failure")]
    Db,
}

impl From<db::DbError> for LabelError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Db
    }
}

/// What a create asks for.
#[derive(Debug, Clone)]
pub struct LabelSpec {
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `#rrggbb`, or empty.
    pub color: String,
    /// `g` or `p`.
    pub scope: String,
    /// The project of a project label.
    pub project_id: Option<i64>,
}

fn checked(name: &str, color: &str) -> Result<(), LabelError> {
    if name.trim().is_empty() || name.len() > 128 {
        return Err(LabelError::Invalid("a label needs a name of 1 to 128 characters".into()));
    }
    let hex = color.strip_prefix('#').unwrap_or("x");
    let valid_hex = hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit());
    if !(color.is_empty() || valid_hex) {
        return Err(LabelError::Invalid(format!("color {color:?}: use #rrggbb")));
    }
    Ok(())
}

/// The labels service.
#[derive(Clone)]
pub struct Labels {
    db: Db,
    projects: Projects,
}

impl Labels {
    /// The service over `db`.
    pub fn new(db: Db, projects: Projects) -> Self {
        Self { db, projects }
    }

    /// Checks that `who` may change label `row`.
    async fn may_change(&self, who: &Identity, row: &LabelRow) -> Result<(), LabelError> {
        match (row.scope.as_str(), row.project_id) {
            (PROJECT, Some(pid)) => {
                self.projects.get(who, &ProjectRef::Id(pid), Action::ManageLabels).await?;
                Ok(())
            }
            _ if who.is_sysadmin() => Ok(()),
            _ if matches!(who, Identity::Anonymous) => Err(ProjectError::Unauthorized.into()),
            _ => Err(ProjectError::Forbidden.into()),
        }
    }

    /// Labels of `scope` (`g`, or `p` with `project_id`) whose name contains `name`, one page.
    pub async fn list(
        &self,
        who: &Identity,
        scope: &str,
        project_id: Option<i64>,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LabelRow>, i64), LabelError> {
        let project = match scope {
            GLOBAL => {
                if matches!(who, Identity::Anonymous) {
                    return Err(ProjectError::Unauthorized.into());
                }
                None
            }
            PROJECT => {
                let id =
                    project_id.ok_or_else(|| LabelError::Invalid("project labels need project_id".into()))?;
                Some(self.projects.get(who, &ProjectRef::Id(id), Action::ReadProject).await?.id)
            }
            other => return Err(LabelError::Invalid(format!("scope {other:?}: use g or p"))),
        };
        let rows = db::labels::list(self.db.reader(), scope, project, name, offset, limit).await?;
        let total = db::labels::count(self.db.reader(), scope, project, name).await?;
        Ok((rows, total))
    }

    /// Label `id`, for whoever may see its scope.
    pub async fn get(&self, who: &Identity, id: i64) -> Result<LabelRow, LabelError> {
        let row = db::labels::get(self.db.reader(), id)
            .await?
            .ok_or_else(|| LabelError::NotFound(format!("label {id}")))?;
        match row.project_id {
            Some(pid) => {
                self.projects.get(who, &ProjectRef::Id(pid), Action::ReadProject).await?;
            }
            None if matches!(who, Identity::Anonymous) => return Err(ProjectError::Unauthorized.into()),
            None => {}
        }
        Ok(row)
    }

    /// Creates a label; returns its id.
    pub async fn create(&self, who: &Identity, spec: &LabelSpec) -> Result<i64, LabelError> {
        checked(&spec.name, &spec.color)?;
        let project = match spec.scope.as_str() {
            GLOBAL => {
                if !who.is_sysadmin() {
                    return Err(if matches!(who, Identity::Anonymous) {
                        ProjectError::Unauthorized
                    } else {
                        ProjectError::Forbidden
                    }
                    .into());
                }
                None
            }
            PROJECT => {
                let id = spec
                    .project_id
                    .ok_or_else(|| LabelError::Invalid("project labels need project_id".into()))?;
                Some(self.projects.get(who, &ProjectRef::Id(id), Action::ManageLabels).await?.id)
            }
            other => return Err(LabelError::Invalid(format!("scope {other:?}: use g or p"))),
        };
        let fields =
            LabelFields { name: spec.name.trim(), description: &spec.description, color: &spec.color };
        match db::labels::insert(self.db.writer(), &spec.scope, project, &fields).await {
            Ok(id) => Ok(id),
            Err(e) if e.is_unique_violation() => {
                Err(LabelError::Conflict(format!("a label named {} exists in this scope", spec.name.trim())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Changes label `id`'s name, description and color.
    pub async fn update(
        &self,
        who: &Identity,
        id: i64,
        name: &str,
        description: &str,
        color: &str,
    ) -> Result<(), LabelError> {
        let row = db::labels::get(self.db.reader(), id)
            .await?
            .ok_or_else(|| LabelError::NotFound(format!("label {id}")))?;
        self.may_change(who, &row).await?;
        checked(name, color)?;
        let fields = LabelFields { name: name.trim(), description, color };
        match db::labels::update(self.db.writer(), id, &fields).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                Err(LabelError::Conflict(format!("a label named {} exists in this scope", name.trim())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes label `id`, taking it off every artifact.
    pub async fn delete(&self, who: &Identity, id: i64) -> Result<(), LabelError> {
        let row = db::labels::get(self.db.reader(), id)
            .await?
            .ok_or_else(|| LabelError::NotFound(format!("label {id}")))?;
        self.may_change(who, &row).await?;
        db::labels::delete(self.db.writer(), id).await?;
        Ok(())
    }

    /// The labels artifacts of project `r` may carry, for whoever may see the project.
    pub async fn usable(&self, who: &Identity, r: &ProjectRef) -> Result<Vec<LabelRow>, LabelError> {
        let p = self.projects.get(who, r, Action::ReadProject).await?;
        Ok(db::labels::usable(self.db.reader(), p.id).await?)
    }

    /// Checks that label `label_id` may go on an artifact of project `project_id`.
    pub async fn applicable(&self, project_id: i64, label_id: i64) -> Result<LabelRow, LabelError> {
        let row = db::labels::get(self.db.reader(), label_id)
            .await?
            .ok_or_else(|| LabelError::NotFound(format!("label {label_id}")))?;
        if row.project_id.is_some_and(|p| p != project_id) {
            return Err(LabelError::Invalid(format!("label {} belongs to another project", row.name)));
        }
        Ok(row)
    }
}
