//! What a registry token may grant: for each requested scope, the requested actions the caller's
//! account is allowed in that repository's project, and nothing else.

use super::Registry;
use super::error::RegistryError;
use crate::auth::token::Access;
use crate::auth::{Action, Identity, allowed};
use crate::db;
use crate::oci::reference::RepoName;

impl Registry {
    /// The accesses to put in a token for `who`, out of `requested`. Unknown projects, malformed
    /// names and actions the account may not perform are silently left out, as Docker's token
    /// specification asks.
    pub async fn grant(&self, who: &Identity, requested: &[Access]) -> Result<Vec<Access>, RegistryError> {
        let mut granted: Vec<Access> = Vec::new();
        for req in requested {
            match req.kind.as_str() {
                // The catalog filters by visibility itself, so anyone may ask for it.
                "registry" if req.name == "catalog" => granted.push(req.clone()),
                "repository" => {
                    let Ok(name) = req.name.parse::<RepoName>() else {
                        continue;
                    };
                    let Some(access) =
                        db::projects::access(self.db.reader(), name.project(), name.as_str(), who.user_id())
                            .await?
                    else {
                        continue;
                    };
                    let wanted: Vec<Action> = if req.actions.iter().any(|a| a == "*") {
                        Action::ALL.to_vec()
                    } else {
                        req.actions.iter().filter_map(|a| Action::parse(a)).collect()
                    };
                    let mut actions: Vec<String> = wanted
                        .into_iter()
                        .filter(|a| allowed(who, access.project_id, access.public, access.role, *a))
                        .map(|a| a.as_str().to_owned())
                        .collect();
                    actions.dedup();
                    if !actions.is_empty() {
                        granted.push(Access { kind: req.kind.clone(), name: req.name.clone(), actions });
                    }
                }
                _ => {}
            }
        }
        Ok(granted)
    }
}
