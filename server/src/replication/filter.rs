//! Harbor's replication filters: `name` (repository, doublestar), `tag` (doublestar, `matches`
//! or `excludes`), `label` (`matches`: the artifact carries every label named; `excludes`: it
//! carries none of them; labels of a remote registry's artifacts are not known, so on a
//! pull-based policy they count as none) and `resource` (`image` selects container images and
//! their indexes, `artifact` everything).

use serde::{Deserialize, Serialize};

use crate::retention::pattern::Pattern;
use crate::retention::policy::LabelSelector;
use frontend::types::ArtifactKind;

/// One filter as Harbor's API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicationFilter {
    /// `name`, `tag`, `label` or `resource`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The pattern (or, for `label`, the labels; for `resource`, `image` or `artifact`).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// `matches` (the default) or `excludes`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decoration: String,
}

/// Compiled filters.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    names: Vec<(Pattern, bool)>,
    tags: Vec<(Pattern, bool)>,
    labels: Vec<LabelSelector>,
    resource: Option<String>,
}

fn excludes(decoration: &str) -> Result<bool, String> {
    match decoration {
        "" | "matches" => Ok(false),
        "excludes" => Ok(true),
        other => Err(format!("filter decoration {other:?} is not supported: use matches or excludes")),
    }
}

impl Filters {
    /// Compiles Harbor's filter list.
    pub fn compile(list: &[ReplicationFilter]) -> Result<Self, String> {
        let mut f = Self::default();
        for item in list {
            let text = item.value.as_str().unwrap_or_default();
            let ex = excludes(&item.decoration)?;
            match item.kind.as_str() {
                "name" | "tag" => {
                    if text.is_empty() {
                        continue;
                    }
                    let p: Pattern =
                        text.parse().map_err(|e| format!("{} filter {text:?}: {e}", item.kind))?;
                    if item.kind == "name" { f.names.push((p, ex)) } else { f.tags.push((p, ex)) }
                }
                "label" => {
                    let names: Vec<&str> = match &item.value {
                        serde_json::Value::Array(a) => a
                            .iter()
                            .map(|v| v.as_str().ok_or("label filter values must be label names"))
                            .collect::<Result<_, _>>()?,
                        serde_json::Value::String(s) => vec![s.as_str()],
                        serde_json::Value::Null => Vec::new(),
                        _ => return Err("label filter value must be a list of label names".into()),
                    };
                    f.labels.extend(LabelSelector::new(ex, names));
                }
                "resource" => match text {
                    "" => {}
                    "image" | "artifact" => f.resource = Some(text.to_owned()),
                    other => return Err(format!("resource filter {other:?}: use image or artifact")),
                },
                other => {
                    return Err(format!(
                        "filter type {other:?} is not supported: use name, tag, label or resource"
                    ));
                }
            }
        }
        Ok(f)
    }

    /// Whether repository `name` is selected.
    pub fn repository(&self, name: &str) -> bool {
        self.names.iter().all(|(p, ex)| p.matches(name) != *ex)
    }

    /// Whether a label filter is set (callers then read the artifact's labels).
    pub fn filters_labels(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Whether an artifact carrying `labels` is selected.
    pub fn labels(&self, labels: &[&str]) -> bool {
        self.labels.iter().all(|s| s.selects(labels))
    }

    /// Whether tag `tag` is selected.
    pub fn tag(&self, tag: &str) -> bool {
        self.tags.iter().all(|(p, ex)| p.matches(tag) != *ex)
    }

    /// Whether a resource filter asks for a kind of artifact.
    pub fn filters_kind(&self) -> bool {
        self.resource.as_deref() == Some("image")
    }

    /// Whether an artifact of `kind` is selected.
    pub fn kind(&self, kind: &ArtifactKind) -> bool {
        match self.resource.as_deref() {
            Some("image") => matches!(kind, ArtifactKind::Image | ArtifactKind::Index),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &str, value: &str, decoration: &str) -> ReplicationFilter {
        ReplicationFilter { kind: kind.into(), value: value.into(), decoration: decoration.into() }
    }

    #[test]
    fn names_tags_and_kinds_select() {
        let fs =
            Filters::compile(&[f("name", "library/**", ""), f("tag", "v*", "matches")]).expect("compile");
        assert!(fs.repository("library/nginx"));
        assert!(fs.repository("library/a/b"));
        assert!(!fs.repository("team/app"));
        assert!(fs.tag("v1.2"));
        assert!(!fs.tag("latest"));
        let fs = Filters::compile(&[f("tag", "*-rc*", "excludes")]).expect("compile");
        assert!(fs.tag("1.0"));
        assert!(!fs.tag("1.0-rc1"));
        let fs = Filters::compile(&[f("resource", "image", "")]).expect("compile");
        assert!(fs.kind(&ArtifactKind::Image) && fs.kind(&ArtifactKind::Index));
        assert!(!fs.kind(&ArtifactKind::Other("application/vnd.cncf.helm.config.v1+json".into())));
        assert!(Filters::compile(&[f("color", "x", "")]).is_err());
        assert!(Filters::compile(&[f("name", "x", "sometimes")]).is_err());
        let labels = Filters::compile(&[ReplicationFilter {
            kind: "label".into(),
            value: serde_json::json!(["prod"]),
            decoration: "matches".into(),
        }])
        .expect("compile");
        assert!(labels.repository("library/nginx") && labels.filters_labels());
        assert!(labels.labels(&["prod", "x"]) && !labels.labels(&["x"]) && !labels.labels(&[]));
        let ex = Filters::compile(&[ReplicationFilter {
            kind: "label".into(),
            value: serde_json::json!(["prod", "qa"]),
            decoration: "excludes".into(),
        }])
        .expect("compile");
        assert!(ex.labels(&[]) && ex.labels(&["dev"]) && !ex.labels(&["qa"]));
        let none = Filters::compile(&[ReplicationFilter {
            kind: "label".into(),
            value: serde_json::json!([]),
            decoration: String::new(),
        }])
        .expect("compile");
        assert!(!none.filters_labels());
        assert!(
            Filters::compile(&[ReplicationFilter {
                kind: "label".into(),
                value: serde_json::json!([1]),
                decoration: String::new()
            }])
            .is_err()
        );
    }
}
