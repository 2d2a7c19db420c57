//! The image configuration (OCI image-spec `config.md`, the same shape as Docker's): the fields
//! people read on an artifact's page. Unknown fields are ignored; every field is optional, as
//! configs written by different builders leave out different things.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::manifest::Platform;

/// Largest config read (configs are a few KiB; a huge one is not worth showing).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// An image configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ImageConfig {
    /// Build time (RFC 3339), as written by the builder.
    #[serde(default)]
    pub created: Option<String>,
    /// The platform it was built for (`os`, `architecture`, `variant` at the top level).
    #[serde(flatten)]
    pub platform: Platform,
    /// How containers run.
    #[serde(default)]
    pub config: RunConfig,
    /// The build steps, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// How a container of the image runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` lines.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// The working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The user it runs as.
    #[serde(default)]
    pub user: Option<String>,
    /// `port/proto` it listens on (the values are empty objects).
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// One build step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HistoryEntry {
    /// The command that made it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// A comment, when there is no command.
    #[serde(default)]
    pub comment: Option<String>,
    /// The step made no layer (`ENV`, `CMD`, …): the manifest's layers line up with the other
    /// steps only.
    #[serde(default)]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// Parses a config blob; `None` when it is not a readable config.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The fields people look for, in the order Harbor shows them, as label and text; empty
    /// ones are left out.
    pub fn fields(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let joined = |v: &Option<Vec<String>>, sep: &str| v.as_ref().map(|v| v.join(sep));
        let candidates = [
            ("Created", self.created.clone()),
            ("OS/Arch", Some(self.platform.to_string()).filter(|p| p != "unknown")),
            ("Entrypoint", joined(&c.entrypoint, " ")),
            ("Cmd", joined(&c.cmd, " ")),
            ("Working dir", c.working_dir.clone()),
            ("User", c.user.clone()),
            ("Env", joined(&c.env, "\n")),
            (
                "Exposed ports",
                c.exposed_ports.as_ref().map(|p| p.keys().cloned().collect::<Vec<_>>().join(", ")),
            ),
            (
                "Labels",
                c.labels
                    .as_ref()
                    .map(|l| l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")),
            ),
        ];
        candidates
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_owned(), v)))
            .collect()
    }

    /// The build step that made each of `layers` layers, bottom first: the history entries that
    /// made a layer, in order (`None` where the history is shorter than the layer list).
    pub fn layer_steps(&self, layers: usize) -> Vec<Option<String>> {
        let mut steps = self
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .map(|h| h.created_by.clone().or_else(|| h.comment.clone()).filter(|s| !s.is_empty()));
        (0..layers).map(|_| steps.next().flatten()).collect()
    }

    /// The build steps as lines (commands, else comments), empty ones left out.
    pub fn history_lines(&self) -> Vec<String> {
        self.history
            .iter()
            .filter_map(|h| h.created_by.clone().or_else(|| h.comment.clone()))
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_config_reads_as_harbor_shows_it() {
        let c = ImageConfig::parse(
            br#"{"created":"2026-11-01T00:00:00Z","os":"linux","architecture":"arm64","variant":"v8",
            "config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["run"],"Env":["A=1","B=2"],"WorkingDir":"",
            "ExposedPorts":{"80/tcp":{},"443/tcp":{}},"Labels":{"org.x":"y"}},
            "history":[{"created_by":"ADD file"},{"comment":"buildkit"},{"empty_layer":true}],
            "rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .expect("config");
        let fields = c.fields();
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["Created", "OS/Arch", "Entrypoint", "Cmd", "Env", "Exposed ports", "Labels"]);
        assert_eq!(fields[1].1, "linux/arm64/v8");
        assert_eq!(fields[2].1, "/bin/sh -c");
        assert_eq!(fields[4].1, "A=1\nB=2");
        assert_eq!(fields[5].1, "443/tcp, 80/tcp");
        assert_eq!(c.history_lines(), ["ADD file", "buildkit"]);
    }

    #[test]
    fn odd_configs_are_not_errors() {
        assert_eq!(ImageConfig::parse(b"{}").map(|c| c.fields().len()), Some(0));
        assert!(ImageConfig::parse(b"not json").is_none());
        assert!(ImageConfig::parse(br#"{"config":{"Env":"not a list"}}"#).is_none());
    }

    #[test]
    fn layers_line_up_with_the_steps_that_made_them() {
        let c = ImageConfig::parse(
            br#"{"history":[{"created_by":"ADD rootfs.tar /"},{"created_by":"ENV A=1","empty_layer":true},
            {"created_by":"RUN make"},{"comment":"","empty_layer":false}]}"#,
        )
        .expect("config");
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(c.layer_steps(4), vec![some("ADD rootfs.tar /"), some("RUN make"), None, None]);
        assert_eq!(c.layer_steps(1), vec![some("ADD rootfs.tar /")]);
    }
}
