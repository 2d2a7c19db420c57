//! An image's merged filesystem: its layers applied bottom first as a container runtime applies
//! them (OCI image-spec `layer.md`: whiteouts delete from the layers below, an opaque directory
//! hides everything below it), kept as a tree whose directories know the size beneath them.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Bound;

use frontend::types::{FileKind, TreeEntry};

use super::layer::LayerIndex;

/// One path of the merged filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its name in its directory (`""` for the root).
    pub name: Box<str>,
    /// What it is; [`FileKind::Whiteout`] for a path an upper layer removed.
    pub kind: FileKind,
    /// A file's size; a directory's is the sum beneath it; a removed path's is what it held.
    pub size: u64,
    /// Regular files beneath (1 for a file).
    pub files: u64,
    /// Permission bits.
    pub mode: u32,
    /// A link's target.
    pub target: Option<Box<str>>,
    /// 0-based layer that last wrote (or removed) it.
    pub layer: usize,
    /// CRC-32 of a file's content.
    pub crc: u32,
    /// Its entries (indexes into the tree), largest first, removed ones last.
    pub children: Vec<u32>,
}

/// A merged filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// Node 0 is the root; a parent always comes before its children.
    nodes: Vec<Node>,
    /// Some layer was only partly read.
    pub truncated: bool,
}

/// A path's state while layers are applied.
#[derive(Debug, Clone)]
struct Live {
    kind: FileKind,
    size: u64,
    mode: u32,
    target: Option<Box<str>>,
    layer: usize,
    crc: u32,
}

/// The keys of `map` strictly beneath directory `dir` (`""` is the root).
fn beneath<V>(map: &BTreeMap<Box<str>, V>, dir: &str) -> Vec<Box<str>> {
    if dir.is_empty() {
        return map.keys().cloned().collect();
    }
    // Every path under `dir/` sorts between `dir/` and `dir0` ('0' follows '/').
    let (from, to) = (format!("{dir}/"), format!("{dir}0"));
    map.range::<str, _>((Bound::Included(from.as_str()), Bound::Excluded(to.as_str())))
        .map(|(k, _)| k.clone())
        .collect()
}

impl Tree {
    /// The filesystem `layers` (bottom first) make.
    pub fn merge(layers: &[&LayerIndex]) -> Self {
        let mut live: BTreeMap<Box<str>, Live> = BTreeMap::new();
        // Paths an upper layer removed: the layer that did and how many bytes went.
        let mut removed: BTreeMap<Box<str>, (usize, u64)> = BTreeMap::new();
        let mut truncated = false;
        for (i, layer) in layers.iter().enumerate() {
            truncated |= layer.truncated;
            // A layer's deletions apply to the layers below it only, wherever they sit in its
            // archive: apply them all before its own entries.
            for e in layer.entries.iter().filter(|e| e.kind.is_deletion()) {
                let mut gone: Vec<Box<str>> = beneath(&live, &e.path);
                if e.kind == FileKind::Whiteout {
                    gone.push(e.path.clone());
                    for stale in beneath(&removed, &e.path) {
                        removed.remove(&stale);
                    }
                }
                let mut bytes_of: HashMap<Box<str>, u64> = HashMap::new();
                for path in gone {
                    if let Some(was) = live.remove(&path) {
                        // What went is shown at the deleted path itself (a whiteout) or at each
                        // top-level entry of the emptied directory (an opaque marker).
                        let shown = if e.kind == FileKind::Whiteout {
                            e.path.clone()
                        } else {
                            let rest = if e.path.is_empty() { &path[..] } else { &path[e.path.len() + 1..] };
                            let top = rest.split('/').next().unwrap_or(rest);
                            if e.path.is_empty() { top.into() } else { format!("{}/{top}", e.path).into() }
                        };
                        *bytes_of.entry(shown).or_default() += was.size;
                    }
                }
                for (path, bytes) in bytes_of {
                    removed.insert(path, (i, bytes));
                }
            }
            for e in layer.entries.iter().filter(|e| !e.kind.is_deletion()) {
                // A file replacing a directory (or the reverse) replaces what was beneath.
                if e.kind != FileKind::Dir {
                    for path in beneath(&live, &e.path) {
                        live.remove(&path);
                    }
                }
                removed.remove(&e.path);
                live.insert(
                    e.path.clone(),
                    Live {
                        kind: e.kind,
                        size: e.size,
                        mode: e.mode,
                        target: e.target.clone(),
                        layer: i,
                        crc: e.crc,
                    },
                );
            }
        }
        let mut tree = Self { nodes: vec![Self::dir_node("", 0, 0o755)], truncated };
        let mut index: HashMap<Box<str>, u32> = HashMap::from([("".into(), 0)]);
        for (path, l) in &live {
            let parent = tree.parent_of(&mut index, path, l.layer);
            let node = Node {
                name: path.rsplit('/').next().unwrap_or(path).into(),
                kind: l.kind,
                size: if l.kind == FileKind::File { l.size } else { 0 },
                files: u64::from(l.kind == FileKind::File),
                mode: l.mode,
                target: l.target.clone(),
                layer: l.layer,
                crc: l.crc,
                children: Vec::new(),
            };
            let at = tree.push(parent, node);
            index.insert(path.clone(), at);
        }
        for (path, &(layer, bytes)) in &removed {
            let parent = tree.parent_of(&mut index, path, layer);
            let node = Node {
                name: path.rsplit('/').next().unwrap_or(path).into(),
                kind: FileKind::Whiteout,
                size: bytes,
                files: 0,
                mode: 0,
                target: None,
                layer,
                crc: 0,
                children: Vec::new(),
            };
            tree.push(parent, node);
        }
        tree.sum_and_sort();
        tree
    }

    fn dir_node(name: &str, layer: usize, mode: u32) -> Node {
        Node {
            name: name.into(),
            kind: FileKind::Dir,
            size: 0,
            files: 0,
            mode,
            target: None,
            layer,
            crc: 0,
            children: Vec::new(),
        }
    }

    fn push(&mut self, parent: u32, node: Node) -> u32 {
        let at = self.nodes.len() as u32;
        self.nodes.push(node);
        self.nodes[parent as usize].children.push(at);
        at
    }

    /// The node of `path`'s directory, made (as a directory of `layer`) when no layer has an
    /// entry for it: archives need not list the directories their files are in.
    fn parent_of(&mut self, index: &mut HashMap<Box<str>, u32>, path: &str, layer: usize) -> u32 {
        let Some((dir, _)) = path.rsplit_once('/') else { return 0 };
        if let Some(&at) = index.get(dir) {
            return at;
        }
        let parent = self.parent_of(index, dir, layer);
        let name = dir.rsplit('/').next().unwrap_or(dir);
        let at = self.push(parent, Self::dir_node(name, layer, 0o755));
        index.insert(dir.into(), at);
        at
    }

    /// Directory totals (children come after their parents, so one backward pass), then each
    /// directory's entries largest first, removed ones last.
    fn sum_and_sort(&mut self) {
        let mut totals: Vec<(u64, u64)> = self.nodes.iter().map(|n| (n.size, n.files)).collect();
        // Children are pushed after their parent, so a node's parent has a smaller index:
        // walking backwards adds each finished node into its parent.
        let mut parent = vec![0u32; self.nodes.len()];
        for (at, n) in self.nodes.iter().enumerate() {
            for &c in &n.children {
                parent[c as usize] = at as u32;
            }
        }
        for at in (1..self.nodes.len()).rev() {
            if self.nodes[at].kind == FileKind::Whiteout {
                continue;
            }
            let (size, files) = totals[at];
            let p = parent[at] as usize;
            totals[p].0 += size;
            totals[p].1 += files;
        }
        for (n, (size, files)) in self.nodes.iter_mut().zip(totals) {
            if n.kind == FileKind::Dir {
                n.size = size;
                n.files = files;
            }
        }
        let keys: Vec<(bool, u64)> =
            self.nodes.iter().map(|n| (n.kind == FileKind::Whiteout, n.size)).collect();
        for at in 0..self.nodes.len() {
            let mut children = std::mem::take(&mut self.nodes[at].children);
            children.sort_by(|&a, &b| {
                let (ra, sa) = keys[a as usize];
                let (rb, sb) = keys[b as usize];
                ra.cmp(&rb)
                    .then(sb.cmp(&sa))
                    .then_with(|| self.nodes[a as usize].name.cmp(&self.nodes[b as usize].name))
            });
            self.nodes[at].children = children;
        }
    }

    /// The root.
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// The node at `path` (`/`-rooted or not), following the entries' names.
    pub fn find(&self, path: &str) -> Option<&Node> {
        let mut at = &self.nodes[0];
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let next = at.children.iter().map(|&c| &self.nodes[c as usize]).find(|c| &*c.name == part)?;
            at = next;
        }
        Some(at)
    }

    /// The entries of directory `node`, largest first.
    pub fn children<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        node.children.iter().map(|&c| &self.nodes[c as usize])
    }

    /// The `n` largest files beneath `node`, with their paths relative to it, largest first.
    pub fn largest<'a>(&'a self, node: &'a Node, n: usize) -> Vec<(String, &'a Node)> {
        // A min-heap of the best `n` so far: memory stays `n` whatever the tree's size.
        let mut best: BinaryHeap<std::cmp::Reverse<(u64, String)>> = BinaryHeap::new();
        let mut found: HashMap<String, &Node> = HashMap::new();
        let mut stack: Vec<(String, &Node)> = vec![(String::new(), node)];
        while let Some((path, at)) = stack.pop() {
            for c in self.children(at) {
                let p = if path.is_empty() { c.name.to_string() } else { format!("{path}/{}", c.name) };
                match c.kind {
                    FileKind::Dir => stack.push((p, c)),
                    // Empty files are not where the size went.
                    FileKind::File
                        if c.size > 0 && (best.len() < n || best.peek().is_some_and(|m| m.0.0 < c.size)) =>
                    {
                        best.push(std::cmp::Reverse((c.size, p.clone())));
                        found.insert(p, c);
                        if best.len() > n
                            && let Some(std::cmp::Reverse((_, gone))) = best.pop()
                        {
                            found.remove(&gone);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut out: Vec<(String, &Node)> = best
            .into_iter()
            .filter_map(|std::cmp::Reverse((_, p))| found.remove(&p).map(|node| (p, node)))
            .collect();
        out.sort_by(|a, b| b.1.size.cmp(&a.1.size).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Every path that is not a directory or a removal, with its node, sorted by path.
    pub fn files(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::new();
        let mut stack: Vec<(String, &Node)> = vec![(String::new(), &self.nodes[0])];
        while let Some((path, at)) = stack.pop() {
            for c in self.children(at) {
                let p = format!("{path}/{}", c.name);
                match c.kind {
                    FileKind::Dir => stack.push((p, c)),
                    FileKind::Whiteout | FileKind::Opaque => {}
                    _ => out.push((p, c)),
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Rough bytes the tree holds in memory (for the cache's budget).
    pub fn weight(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                std::mem::size_of::<Node>()
                    + n.name.len()
                    + n.target.as_ref().map_or(0, |t| t.len())
                    + n.children.len() * 4
            })
            .sum()
    }
}

/// `node`, found at `path` (`/`-rooted), as the API shows it.
pub fn entry(path: &str, node: &Node) -> TreeEntry {
    TreeEntry {
        name: node.name.to_string(),
        path: path.to_owned(),
        kind: node.kind,
        size: node.size,
        files: node.files,
        mode: node.mode,
        target: node.target.as_deref().map(str::to_owned),
        layer: node.layer + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::layer::tests::{Item, tar_of};
    use super::super::layer::{MAX_ENTRIES, read};
    use super::*;

    fn layer(items: &[Item<'_>]) -> LayerIndex {
        read(&tar_of(items)[..], MAX_ENTRIES).expect("layer")
    }

    fn names(tree: &Tree, path: &str) -> Vec<(String, FileKind, u64, usize)> {
        let dir = tree.find(path).expect("dir");
        tree.children(dir).map(|n| (n.name.to_string(), n.kind, n.size, n.layer)).collect()
    }

    #[test]
    fn upper_layers_replace_and_delete_what_lower_ones_wrote() {
        let base = layer(&[
            Item::Dir("etc/"),
            Item::File("etc/os-release", b"base"),
            Item::File("tmp/cache/a", b"aaaa"),
            Item::File("tmp/cache/b", b"bb"),
            Item::File("var/lib/x", b"xxx"),
            Item::File("big", &[0u8; 100]),
        ]);
        let upper = layer(&[
            Item::File("etc/os-release", b"upper!"),
            Item::File("tmp/.wh.cache", b""),
            Item::File("var/lib/y", b"y"),
            Item::File("var/lib/.wh..wh..opq", b""),
        ]);
        let tree = Tree::merge(&[&base, &upper]);
        // Largest first; the removed directory last, with the bytes it held.
        assert_eq!(
            names(&tree, "/"),
            vec![
                ("big".into(), FileKind::File, 100, 0),
                ("etc".into(), FileKind::Dir, 6, 0),
                // Directories no archive lists are dated by what made them needed.
                ("var".into(), FileKind::Dir, 1, 1),
                ("tmp".into(), FileKind::Dir, 0, 1),
            ]
        );
        assert_eq!(names(&tree, "/tmp"), vec![("cache".into(), FileKind::Whiteout, 6, 1)]);
        // The opaque directory keeps the upper layer's own entry and hides the lower one.
        assert_eq!(
            names(&tree, "/var/lib"),
            vec![("y".into(), FileKind::File, 1, 1), ("x".into(), FileKind::Whiteout, 3, 1)]
        );
        assert_eq!(tree.find("/etc/os-release").map(|n| (n.size, n.layer)), Some((6, 1)));
        assert_eq!(tree.root().size, 107);
        assert_eq!(tree.root().files, 3);
        let files: Vec<String> = tree.files().into_iter().map(|(p, _)| p).collect();
        assert_eq!(files, vec!["/big", "/etc/os-release", "/var/lib/y"]);
    }

    #[test]
    fn a_path_written_again_after_its_deletion_is_back() {
        let a = layer(&[Item::File("app/config", b"one")]);
        let b = layer(&[Item::File("app/.wh.config", b"")]);
        let c = layer(&[Item::File("app/config", b"three")]);
        let tree = Tree::merge(&[&a, &b, &c]);
        assert_eq!(names(&tree, "/app"), vec![("config".into(), FileKind::File, 5, 2)]);
        let tree = Tree::merge(&[&a, &b]);
        assert_eq!(names(&tree, "/app"), vec![("config".into(), FileKind::Whiteout, 3, 1)]);
    }

    #[test]
    fn a_file_replacing_a_directory_replaces_what_was_beneath() {
        let a = layer(&[Item::File("opt/tool/bin", b"12345")]);
        let b = layer(&[Item::Symlink("opt/tool", "/usr/lib/tool")]);
        let tree = Tree::merge(&[&a, &b]);
        assert_eq!(names(&tree, "/opt"), vec![("tool".into(), FileKind::Symlink, 0, 1)]);
        assert_eq!(tree.root().size, 0);
    }

    #[test]
    fn the_largest_files_are_found_beneath_any_directory() {
        let a = layer(&[
            Item::File("usr/lib/a.so", &[1u8; 50]),
            Item::File("usr/lib/b.so", &[1u8; 70]),
            Item::File("usr/bin/c", &[1u8; 10]),
            Item::File("etc/d", &[1u8; 60]),
        ]);
        let tree = Tree::merge(&[&a]);
        let top: Vec<(String, u64)> =
            tree.largest(tree.root(), 2).into_iter().map(|(p, n)| (p, n.size)).collect();
        assert_eq!(top, vec![("usr/lib/b.so".into(), 70), ("etc/d".into(), 60)]);
        let usr = tree.find("usr").expect("usr");
        let top: Vec<String> = tree.largest(usr, 10).into_iter().map(|(p, _)| p).collect();
        assert_eq!(top, vec!["lib/b.so", "lib/a.so", "bin/c"]);
    }
}
