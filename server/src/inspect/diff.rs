//! Two images compared: the files of their merged filesystems and the fields of their
//! configurations.

use std::collections::BTreeMap;

use frontend::types::{ChangeKind, ConfigChange, FileChange};

use super::tree::{Node, Tree};
use crate::oci::config::ImageConfig;

/// Differing files listed at most (the counts cover all of them).
pub const MAX_CHANGES: usize = 5_000;

/// The files that differ between `base` and `other`, by path (at most `max`), and how many were
/// added, removed and changed in all.
pub fn files(base: &Tree, other: &Tree, max: usize) -> (Vec<FileChange>, [u64; 3]) {
    let (a, b) = (base.files(), other.files());
    let mut out = Vec::new();
    let mut counts = [0u64; 3];
    let mut note = |path: &str, change: ChangeKind, before: Option<&Node>, after: Option<&Node>| {
        counts[change as usize] += 1;
        if out.len() < max {
            out.push(FileChange {
                path: path.to_owned(),
                change,
                before: before.map(|n| n.size),
                after: after.map(|n| n.size),
            });
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some((pa, na)), Some((pb, nb))) if pa == pb => {
                if differs(na, nb) {
                    note(pa, ChangeKind::Changed, Some(na), Some(nb));
                }
                i += 1;
                j += 1;
            }
            (Some((pa, na)), Some((pb, _))) if pa < pb => {
                note(pa, ChangeKind::Removed, Some(na), None);
                i += 1;
            }
            (Some((pa, na)), None) => {
                note(pa, ChangeKind::Removed, Some(na), None);
                i += 1;
            }
            (_, Some((pb, nb))) => {
                note(pb, ChangeKind::Added, None, Some(nb));
                j += 1;
            }
            (None, None) => break,
        }
    }
    (out, counts)
}

/// Whether the same path holds something different: kind, size, mode, link target or content.
fn differs(a: &Node, b: &Node) -> bool {
    a.kind != b.kind || a.size != b.size || a.mode != b.mode || a.target != b.target || a.crc != b.crc
}

/// The configuration fields that differ, one line per field (environment variables, labels and
/// ports one by one).
pub fn config(base: Option<&ImageConfig>, other: Option<&ImageConfig>) -> Vec<ConfigChange> {
    let (a, b) = (fields(base), fields(other));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| ConfigChange { field: k.clone(), before: a.get(k).cloned(), after: b.get(k).cloned() })
        .collect()
}

/// The fields of `c` a comparison looks at, by name.
fn fields(c: Option<&ImageConfig>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(c) = c else { return out };
    let run = &c.config;
    let mut put = |k: String, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.insert(k, v);
        }
    };
    put("Platform".into(), Some(c.platform.to_string()).filter(|p| p != "unknown"));
    put("Entrypoint".into(), run.entrypoint.as_ref().map(|v| v.join(" ")));
    put("Cmd".into(), run.cmd.as_ref().map(|v| v.join(" ")));
    put("Working dir".into(), run.working_dir.clone());
    put("User".into(), run.user.clone());
    for line in run.env.iter().flatten() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        put(format!("Env {k}"), Some(if v.is_empty() { "(empty)".into() } else { v.to_owned() }));
    }
    for (k, v) in run.labels.iter().flatten() {
        put(format!("Label {k}"), Some(if v.is_empty() { "(empty)".into() } else { v.clone() }));
    }
    for port in run.exposed_ports.iter().flat_map(|p| p.keys()) {
        put(format!("Exposed port {port}"), Some("exposed".into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::layer::tests::{Item, tar_of};
    use super::super::layer::{MAX_ENTRIES, read};
    use super::*;

    fn tree(items: &[Item<'_>]) -> Tree {
        Tree::merge(&[&read(&tar_of(items)[..], MAX_ENTRIES).expect("layer")])
    }

    #[test]
    fn added_removed_and_changed_files_are_told_apart() {
        let a = tree(&[
            Item::File("same", b"one"),
            Item::File("gone", b"bye"),
            Item::File("edited", b"abc"),
            Item::File("grown", b"a"),
        ]);
        let b = tree(&[
            Item::File("same", b"one"),
            Item::File("new", b"hello"),
            Item::File("edited", b"abd"),
            Item::File("grown", b"ab"),
        ]);
        let (changes, counts) = files(&a, &b, 100);
        let shown: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.path.as_str(), c.change)).collect();
        assert_eq!(
            shown,
            vec![
                ("/edited", ChangeKind::Changed),
                ("/gone", ChangeKind::Removed),
                ("/grown", ChangeKind::Changed),
                ("/new", ChangeKind::Added),
            ]
        );
        // Same size, different bytes: the content checksum tells.
        assert_eq!((changes[0].before, changes[0].after), (Some(3), Some(3)));
        assert_eq!(counts, [1, 1, 2]);
        let (capped, counts) = files(&a, &b, 1);
        assert_eq!((capped.len(), counts), (1, [1, 1, 2]));
    }

    #[test]
    fn configuration_changes_are_listed_field_by_field() {
        let parse = |json: &str| ImageConfig::parse(json.as_bytes()).expect("config");
        let a = parse(
            r#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/bin","MODE=a"],
               "Entrypoint":["/app"],"ExposedPorts":{"80/tcp":{}},"Labels":{"v":"1"}}}"#,
        );
        let b = parse(
            r#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/bin","DEBUG=1"],
               "Entrypoint":["/app","--serve"],"ExposedPorts":{"443/tcp":{}},"Labels":{"v":"2"}}}"#,
        );
        let changes: Vec<(String, Option<String>, Option<String>)> =
            config(Some(&a), Some(&b)).into_iter().map(|c| (c.field, c.before, c.after)).collect();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            changes,
            vec![
                ("Entrypoint".into(), s("/app"), s("/app --serve")),
                ("Env DEBUG".into(), None, s("1")),
                ("Env MODE".into(), s("a"), None),
                ("Exposed port 443/tcp".into(), None, s("exposed")),
                ("Exposed port 80/tcp".into(), s("exposed"), None),
                ("Label v".into(), s("1"), s("2")),
            ]
        );
        assert!(config(Some(&a), Some(&a)).is_empty());
    }
}
