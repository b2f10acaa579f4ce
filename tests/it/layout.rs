//! The module layout: no two modules import each other, directly or through others. Read from
//! the `use` lines of every crate in the workspace (rustfmt-formatted, so an indented `use` is
//! inside an inline module). An import counts between the two sibling modules under the
//! importer's and the imported item's common ancestor (`ui::board` using `ui::live::Live`
//! counts as board -> live; `server::http::ws` using `server::fanout::Frame` as http -> fanout),
//! and not at all between a module and its own ancestors: a child may use what its parent
//! defines; nor from a file's unit tests (`#[cfg(test)]` to the end of the file). (A limit: an
//! item the parent only re-exports hides which child it comes from.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `crate::a::b` as ["a", "b"].
type ModPath = Vec<String>;

fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut segs: ModPath = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                if matches!(segs.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    segs.pop();
                }
                out.insert(segs, path);
            }
        }
    }
    out
}

/// The paths a `use` tree names: `a::{b, c::d}` is a::b and a::c::d; renames and globs dropped.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap().trim_end_matches("::*");
        return vec![path.split("::").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty() && s != "*").collect()];
    };
    let prefix: Vec<String> = tree[..open]
        .trim_end_matches("::")
        .split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|rest| {
            let rest: Vec<String> = rest.into_iter().filter(|s| s != "self").collect();
            prefix.iter().cloned().chain(rest).collect()
        })
        .collect()
}

/// Every `use` statement of a file with how deep it is nested in inline modules.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    // Unit tests come last in a file and may use anything.
    for line in text.lines().take_while(|l| *l != "#[cfg(test)]") {
        let trimmed = line.trim_start();
        if let Some((depth, mut acc)) = current.take() {
            acc.push(' ');
            acc.push_str(trimmed);
            if trimmed.ends_with(';') {
                out.push((depth, acc));
            } else {
                current = Some((depth, acc));
            }
            continue;
        }
        let body = trimmed.strip_prefix("pub ").or_else(|| trimmed.strip_prefix("pub(crate) ")).unwrap_or(trimmed);
        if let Some(rest) = body.strip_prefix("use ") {
            let depth = (line.len() - trimmed.len()) / 4;
            if rest.trim_end().ends_with(';') {
                out.push((depth, rest.to_owned()));
            } else {
                current = Some((depth, rest.to_owned()));
            }
        }
    }
    out.into_iter().map(|(d, s)| (d, s.trim_end().trim_end_matches(';').to_owned())).collect()
}

/// The module an imported path lands in: the longest prefix that is a module.
fn resolve(from: &ModPath, depth: usize, path: &[String], known: &BTreeMap<ModPath, PathBuf>) -> Option<ModPath> {
    let mut base: ModPath = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") => {
            // At depth 0 `super` is the file's parent; inside an inline module, the file itself.
            let mut b = from.clone();
            let ups = path.iter().take_while(|s| *s == "super").count();
            for _ in 0..ups.saturating_sub(depth) {
                b.pop()?;
            }
            b.extend(path.iter().skip(ups).cloned());
            return longest(b, known);
        }
        Some("self") => from.clone(),
        Some(first) if known.contains_key(&[first.to_owned()][..]) && from.is_empty() => Vec::new(),
        Some(first) => {
            // A child module named without `self::` (`use writer::Writer;` in its parent).
            let child: ModPath = from.iter().cloned().chain([first.to_owned()]).collect();
            if !known.contains_key(&child) {
                return None; // another crate
            }
            from.clone()
        }
        None => return None,
    };
    base.extend(path.iter().skip_while(|s| *s == "crate" || *s == "self").cloned());
    longest(base, known)
}

fn longest(mut path: ModPath, known: &BTreeMap<ModPath, PathBuf>) -> Option<ModPath> {
    loop {
        if known.contains_key(&path) {
            return Some(path);
        }
        path.pop()?;
    }
}

/// Import edges between sibling modules, with one example import each.
fn sibling_edges(src: &Path) -> BTreeMap<(ModPath, ModPath), String> {
    let known = modules(src);
    let mut edges = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        for (depth, tree) in uses(&text) {
            for path in expand(&tree) {
                let Some(target) = resolve(module, depth, &path, &known) else { continue };
                let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
                if common == module.len() || common == target.len() {
                    continue; // the same module, or an ancestor and its descendant
                }
                let (a, b) = (module[..=common].to_vec(), target[..=common].to_vec());
                edges.entry((a, b)).or_insert_with(|| format!("{} uses {}", file.display(), path.join("::")));
            }
        }
    }
    edges
}

/// A cycle in the directed graph, if there is one.
fn find_cycle(edges: &BTreeMap<(ModPath, ModPath), String>) -> Option<Vec<String>> {
    let nodes: BTreeSet<&ModPath> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    fn visit<'a>(
        n: &'a ModPath,
        edges: &'a BTreeMap<(ModPath, ModPath), String>,
        on_path: &mut Vec<&'a ModPath>,
        done: &mut BTreeSet<&'a ModPath>,
    ) -> Option<Vec<String>> {
        if let Some(i) = on_path.iter().position(|p| *p == n) {
            let cycle = &on_path[i..];
            return Some(
                cycle
                    .iter()
                    .zip(cycle.iter().cycle().skip(1))
                    .map(|(a, b)| edges[&((*a).clone(), (*b).clone())].clone())
                    .collect(),
            );
        }
        if !done.insert(n) {
            return None;
        }
        on_path.push(n);
        for ((a, b), _) in edges.range((n.clone(), Vec::new())..) {
            if a != n {
                break;
            }
            if let Some(c) = visit(b, edges, on_path, done) {
                return Some(c);
            }
        }
        on_path.pop();
        None
    }
    let mut done = BTreeSet::new();
    nodes.into_iter().find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

fn crate_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        roots.push(entry.unwrap().path().join("src"));
    }
    roots
}

#[test]
fn no_two_modules_import_each_other() {
    for src in crate_sources() {
        let edges = sibling_edges(&src);
        assert!(!edges.is_empty() || !src.ends_with("leadboard/src"), "no imports found in {}", src.display());
        if let Some(cycle) = find_cycle(&edges) {
            panic!("a module cycle in {}:\n  {}", src.display(), cycle.join("\n  "));
        }
    }
}

#[test]
fn the_checker_sees_a_cycle_and_expands_use_trees() {
    assert_eq!(
        expand("crate::domain::{lead::{LeadId, NewLead}, Role as R, self}"),
        [
            vec!["crate", "domain", "lead", "LeadId"],
            vec!["crate", "domain", "lead", "NewLead"],
            vec!["crate", "domain", "Role"],
            vec!["crate", "domain"]
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ui")).unwrap();
    std::fs::write(dir.path().join("lib.rs"), "pub mod ui;\n").unwrap();
    std::fs::write(dir.path().join("ui/mod.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.path().join("ui/a.rs"), "use super::b::Thing;\n").unwrap();
    std::fs::write(dir.path().join("ui/b.rs"), "use crate::ui::{a::Other, Shared};\n    use super::Inner;\n").unwrap();
    let cycle = find_cycle(&sibling_edges(dir.path())).expect("a and b import each other");
    assert_eq!(cycle.len(), 2, "{cycle:?}");
}
