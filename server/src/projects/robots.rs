//! Robot accounts: project robots, created by project admins for their project, and system
//! robots (Harbor's level "system"), created by system administrators with grants over several
//! projects or all of them. Both have explicit permissions and an optional expiry; the secret is
//! returned once (and on refresh) and stored only as an argon2 hash.

use super::{ProjectError, ProjectRef, Projects, admin_only};
use crate::auth::{Action, Identity, RobotPermissions, password};
use crate::db::{self, now_ms, robots::RobotRow, robots::SystemGrant};
use crate::oci::reference::valid_component;
use secrecy::{ExposeSecret, SecretString};

/// A robot to create.
#[derive(Debug, Clone)]
pub struct NewRobot {
    /// The short name; the full name becomes `robot$<project>+<name>`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Permissions.
    pub grants: RobotPermissions,
    /// Days until it expires; -1 never.
    pub duration_days: i64,
    /// Created disabled.
    pub disabled: bool,
}

/// Which projects a system robot's grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// One project.
    Project(ProjectRef),
    /// Every project, present and future (Harbor's namespace `*`).
    All,
}

/// A system robot to create, or the new permissions of one.
#[derive(Debug, Clone)]
pub struct SystemPermissions(pub Vec<(Namespace, RobotPermissions)>);

fn check_new(name: &str, duration_days: i64) -> Result<(), ProjectError> {
    if !valid_component(name) || name.len() > 100 {
        return Err(ProjectError::InvalidRobot(format!("invalid robot name {name:?}")));
    }
    if duration_days == 0 || duration_days < -1 {
        return Err(ProjectError::InvalidRobot("duration is days (at least 1) or -1 for never".into()));
    }
    Ok(())
}

fn new_secret() -> SecretString {
    SecretString::from(crate::auth::password::random_secret())
}

impl Projects {
    /// Creates a robot in project `p`; returns it, its project's name and its secret.
    pub async fn create_robot(
        &self,
        who: &Identity,
        p: &ProjectRef,
        new: NewRobot,
    ) -> Result<(RobotRow, String, SecretString), ProjectError> {
        let project = self.get(who, p, Action::ManageRobots).await?;
        check_new(&new.name, new.duration_days)?;
        if new.grants == RobotPermissions::default() {
            return Err(ProjectError::InvalidRobot("a robot needs at least one permission".into()));
        }
        let secret = new_secret();
        let expires_at = if new.duration_days < 0 { -1 } else { now_ms() + new.duration_days * 86_400_000 };
        let mut row = RobotRow {
            id: 0,
            name: format!("robot${}+{}", project.name, new.name),
            project_id: Some(project.id),
            description: new.description,
            secret_hash: password::hash(secret.expose_secret().to_owned())
                .await
                .map_err(|_| ProjectError::Db)?,
            grants: new.grants,
            permissions: Vec::new(),
            disabled: new.disabled,
            expires_at,
            created_at: now_ms(),
            updated_at: now_ms(),
        };
        row.id = match db::robots::insert(self.db.writer(), &row).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(ProjectError::Exists(row.name)),
            Err(e) => return Err(e.into()),
        };
        Ok((row, project.name, secret))
    }

    /// The robots of project `p` and the project's name.
    pub async fn list_robots(
        &self,
        who: &Identity,
        p: &ProjectRef,
    ) -> Result<(Vec<RobotRow>, String), ProjectError> {
        let project = self.get(who, p, Action::ManageRobots).await?;
        Ok((db::robots::list(self.db.reader(), project.id).await?, project.name))
    }

    /// One page of every robot account with its project's name, and the total (system
    /// administrators: Harbor lists robots without a project filter only to them).
    pub async fn list_all_robots(
        &self,
        who: &Identity,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<(RobotRow, String)>, i64), ProjectError> {
        admin_only(who)?;
        Ok(db::robots::list_all(&self.db, offset, limit).await?)
    }

    /// Robot `id` and its project's name (empty for a system robot), for someone who manages
    /// its project's robots (system robots: system administrators).
    pub async fn robot(&self, who: &Identity, id: i64) -> Result<(RobotRow, String), ProjectError> {
        let missing = || ProjectError::NoSuchRobot(id.to_string());
        let row = db::robots::by_id(self.db.reader(), id).await?.ok_or_else(missing)?;
        let Some(project_id) = row.project_id else {
            return match admin_only(who) {
                Ok(()) => Ok((row, String::new())),
                Err(ProjectError::Forbidden) => Err(missing()),
                Err(e) => Err(e),
            };
        };
        let project =
            self.get(who, &ProjectRef::Id(project_id), Action::ManageRobots).await.map_err(|e| match e {
                ProjectError::NotFound(_) => missing(),
                other => other,
            })?;
        Ok((row, project.name))
    }

    /// The grants `perms` name, with each project looked up; refused when one does not exist or
    /// a grant is empty.
    async fn system_grants(
        &self,
        who: &Identity,
        perms: SystemPermissions,
    ) -> Result<Vec<SystemGrant>, ProjectError> {
        if perms.0.is_empty() {
            return Err(ProjectError::InvalidRobot("a system robot needs at least one permission".into()));
        }
        let mut out: Vec<SystemGrant> = Vec::with_capacity(perms.0.len());
        for (ns, grants) in perms.0 {
            if grants == RobotPermissions::default() {
                return Err(ProjectError::InvalidRobot("every permission entry needs an action".into()));
            }
            let (project_id, project) = match ns {
                Namespace::All => (None, None),
                Namespace::Project(r) => {
                    let p = self.get(who, &r, Action::ReadProject).await?;
                    (Some(p.id), Some(p.name))
                }
            };
            if out.iter().any(|g| g.project_id == project_id) {
                return Err(ProjectError::InvalidRobot("each project may be named once".into()));
            }
            out.push(SystemGrant { project_id, project, grants });
        }
        Ok(out)
    }

    /// Creates a system robot (system administrators); returns it and its secret.
    pub async fn create_system_robot(
        &self,
        who: &Identity,
        name: &str,
        description: String,
        duration_days: i64,
        disabled: bool,
        perms: SystemPermissions,
    ) -> Result<(RobotRow, SecretString), ProjectError> {
        admin_only(who)?;
        check_new(name, duration_days)?;
        let permissions = self.system_grants(who, perms).await?;
        let secret = new_secret();
        let expires_at = if duration_days < 0 { -1 } else { now_ms() + duration_days * 86_400_000 };
        let mut row = RobotRow {
            id: 0,
            name: format!("robot${name}"),
            project_id: None,
            description,
            secret_hash: password::hash(secret.expose_secret().to_owned())
                .await
                .map_err(|_| ProjectError::Db)?,
            grants: RobotPermissions::default(),
            permissions,
            disabled,
            expires_at,
            created_at: now_ms(),
            updated_at: now_ms(),
        };
        row.id = match db::robots::insert(self.db.writer(), &row).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => return Err(ProjectError::Exists(row.name)),
            Err(e) => return Err(e.into()),
        };
        db::robots::set_permissions(&self.db, row.id, &row.permissions).await?;
        Ok((row, secret))
    }

    /// Replaces a system robot's permissions (system administrators).
    pub async fn set_system_permissions(
        &self,
        who: &Identity,
        id: i64,
        perms: SystemPermissions,
    ) -> Result<(), ProjectError> {
        let (row, _) = self.robot(who, id).await?;
        if row.project_id.is_some() {
            return Err(ProjectError::InvalidRobot(
                "a project robot's permissions name its own project only".into(),
            ));
        }
        let grants = self.system_grants(who, perms).await?;
        Ok(db::robots::set_permissions(&self.db, id, &grants).await?)
    }

    /// Changes robot `id`'s description, permissions and disabled flag.
    pub async fn update_robot(
        &self,
        who: &Identity,
        id: i64,
        description: Option<String>,
        grants: Option<RobotPermissions>,
        disabled: Option<bool>,
    ) -> Result<(), ProjectError> {
        let (mut row, _) = self.robot(who, id).await?;
        if let Some(d) = description {
            row.description = d;
        }
        if let Some(g) = grants {
            row.grants = g;
        }
        if let Some(d) = disabled {
            row.disabled = d;
        }
        Ok(db::robots::update(self.db.writer(), &row).await?)
    }

    /// Gives robot `id` a new secret (`given`, when it meets the password rule, or a random one);
    /// returns it. The old secret stops working at once.
    pub async fn refresh_robot_secret(
        &self,
        who: &Identity,
        id: i64,
        given: Option<SecretString>,
    ) -> Result<SecretString, ProjectError> {
        self.robot(who, id).await?;
        let secret = match given.filter(|s| !s.expose_secret().is_empty()) {
            Some(s) => {
                crate::users::check_password(s.expose_secret())
                    .map_err(|e| ProjectError::InvalidRobot(e.to_string()))?;
                s
            }
            None => new_secret(),
        };
        let hash = password::hash(secret.expose_secret().to_owned()).await.map_err(|_| ProjectError::Db)?;
        db::robots::set_secret(self.db.writer(), id, &hash).await?;
        Ok(secret)
    }

    /// Deletes robot `id`.
    pub async fn delete_robot(&self, who: &Identity, id: i64) -> Result<(), ProjectError> {
        self.robot(who, id).await?;
        Ok(db::robots::delete(self.db.writer(), id).await?)
    }
}
