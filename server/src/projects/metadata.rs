//! A project's metadata as Harbor's `/metadatas` API sees it: string values by key. Wharf keeps
//! `public` (the visibility) and `retention_id` (set by creating a retention policy); Harbor's
//! other keys switch on features Wharf does not have (content trust, vulnerability scanning), so
//! they are accepted only as "false", which is what they are here, and refused as "true".

use std::collections::BTreeMap;

use super::{ProjectError, ProjectRef, Projects};
use crate::auth::{Action, Identity};
use crate::db;

/// Harbor's metadata keys for features Wharf does not have: off, and only off.
const OFF_FEATURES: [&str; 7] = [
    "enable_content_trust",
    "enable_content_trust_cosign",
    "prevent_vul",
    "auto_scan",
    "auto_sbom_generation",
    "reuse_sys_cve_allowlist",
    "severity",
];

fn invalid(m: impl Into<String>) -> ProjectError {
    ProjectError::InvalidMetadata(m.into())
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ProjectError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(format!("{key} must be \"true\" or \"false\", not {value:?}"))),
    }
}

impl Projects {
    /// The metadata of project `r`, for whoever may read it.
    pub async fn metadata(
        &self,
        who: &Identity,
        r: &ProjectRef,
    ) -> Result<BTreeMap<String, String>, ProjectError> {
        let p = self.get(who, r, Action::ReadProject).await?;
        let mut m = BTreeMap::from([("public".to_owned(), p.public.to_string())]);
        if let Some(id) = p.retention_id {
            m.insert("retention_id".into(), id.to_string());
        }
        if p.registry_id.is_some() {
            m.insert("proxy_speed_kb".into(), p.proxy_speed_kb.to_string());
        }
        Ok(m)
    }

    /// Sets metadata `values` of project `r` (project administrators); all are checked before
    /// any is applied.
    pub async fn set_metadata(
        &self,
        who: &Identity,
        r: &ProjectRef,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ProjectError> {
        let p = self.get(who, r, Action::UpdateProject).await?;
        let mut public = None;
        let mut speed = None;
        for (key, value) in values {
            match key.as_str() {
                "public" => public = Some(parse_bool(key, value)?),
                "proxy_speed_kb" => {
                    if p.registry_id.is_none() {
                        return Err(invalid("proxy_speed_kb applies to proxy-cache projects only"));
                    }
                    match value.trim().parse::<i64>() {
                        Ok(v) if v == -1 || v > 0 => speed = Some(v),
                        _ => {
                            return Err(invalid(format!(
                                "proxy_speed_kb must be a positive number of KiB/s or -1, not {value:?}"
                            )));
                        }
                    }
                }
                "retention_id" => {
                    if p.retention_id.map(|id| id.to_string()).as_deref() != Some(value.as_str()) {
                        return Err(invalid(
                            "retention_id is set by creating a retention policy (POST /retentions)",
                        ));
                    }
                }
                k if OFF_FEATURES.contains(&k) => {
                    let off = if k == "severity" {
                        value.is_empty() || value == "none"
                    } else {
                        !parse_bool(k, value)?
                    };
                    if !off {
                        return Err(invalid(format!("{k} is not supported by Wharf: it can only be off")));
                    }
                }
                other => return Err(invalid(format!("unknown metadata key {other:?}"))),
            }
        }
        if let Some(public) = public {
            db::projects::set_public(self.db.writer(), p.id, public).await?;
        }
        if let Some(speed) = speed {
            db::projects::set_proxy(self.db.writer(), p.id, p.registry_id, speed).await?;
        }
        Ok(())
    }

    /// Removes metadata `key` of project `r` (project administrators): without `public` a
    /// project is private, as in Harbor.
    pub async fn delete_metadata(
        &self,
        who: &Identity,
        r: &ProjectRef,
        key: &str,
    ) -> Result<(), ProjectError> {
        let p = self.get(who, r, Action::UpdateProject).await?;
        match key {
            "public" => Ok(db::projects::set_public(self.db.writer(), p.id, false).await?),
            "retention_id" => Err(invalid("delete the retention policy instead (DELETE /retentions/{id})")),
            "proxy_speed_kb" if p.registry_id.is_some() => {
                Ok(db::projects::set_proxy(self.db.writer(), p.id, p.registry_id, -1).await?)
            }
            k if OFF_FEATURES.contains(&k) => Ok(()),
            other => Err(ProjectError::NotFound(format!("metadata {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_harbors_strings() {
        assert_eq!(parse_bool("public", "TRUE"), Ok(true));
        assert_eq!(parse_bool("public", "false"), Ok(false));
        assert!(parse_bool("public", "yes").is_err());
    }
}
