//! `cargo xtask arch`: the crate graph's invariants, read from the table
//! of ARCHITECTURE.md (one place: the document is the rule), checked
//! against `cargo metadata`. `cargo xtask test` runs it first, and the
//! unit test below runs it within `cargo test --workspace`.
//!
//! Each row names a crate and the workspace crates its normal (and build)
//! dependencies may include; dev-dependencies are for tests and may name
//! any crate, and `test-support` may be nothing else.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// What a crate may depend on: `Only` these workspace crates, or `Not`
/// these.
#[derive(Debug, PartialEq)]
enum Allowed {
    Only(Vec<String>),
    Not(Vec<String>),
}

/// One invariant: a crate, what it may depend on, and why.
#[derive(Debug, PartialEq)]
struct Rule {
    krate: String,
    allowed: Allowed,
    why: String,
}

/// The rules of ARCHITECTURE.md's table of the crate graph: the rows
/// `| crate | nothing / A, B / anything but A, B | why |` after the heading
/// `## Invariants of the crate graph`.
fn rules(architecture: &str) -> Result<Vec<Rule>> {
    let section = architecture
        .split("\n## ")
        .find(|s| s.starts_with("Invariants of the crate graph"))
        .context("ARCHITECTURE.md has no section `## Invariants of the crate graph`")?;
    let mut rules = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [krate, allowed, why] = cells.as_slice() else {
            bail!(
                "ARCHITECTURE.md: a row of the crate graph's table is not `| crate | deps | why |`: {row}"
            );
        };
        let names = |list: &str| -> Vec<String> {
            list.split(',')
                .map(|n| n.trim().trim_matches('`').to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        };
        let allowed = match allowed.strip_prefix("anything but ") {
            Some(list) => Allowed::Not(names(list)),
            None if *allowed == "nothing" => Allowed::Only(Vec::new()),
            None => Allowed::Only(names(allowed)),
        };
        rules.push(Rule {
            krate: krate.trim_matches('`').to_owned(),
            allowed,
            why: (*why).to_owned(),
        });
    }
    if rules.is_empty() {
        bail!("ARCHITECTURE.md: the crate graph's table has no rows");
    }
    Ok(rules)
}

fn architecture() -> Result<String> {
    let path = crate::codegen::workspace_root().join("ARCHITECTURE.md");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Each workspace crate's workspace dependencies: `(name, kind)` with kind
/// `normal`, `dev` or `build`.
type Graph = BTreeMap<String, Vec<(String, String)>>;

fn graph() -> Result<Graph> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = crate::slurm::run(
        Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(crate::codegen::workspace_root()),
    )?;
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata's output")?;
    let packages = meta["packages"].as_array().context("no packages")?;
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut graph = Graph::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default().to_owned();
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let dep = d["name"].as_str()?;
                members.contains(&dep).then(|| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                    (dep.to_owned(), kind)
                })
            })
            .collect();
        graph.insert(name, deps);
    }
    Ok(graph)
}

/// Every broken invariant of `graph`, in words.
fn violations(graph: &Graph, rules: &[Rule]) -> Vec<String> {
    let mut out = Vec::new();
    for (krate, deps) in graph {
        for (dep, kind) in deps {
            if dep == "test-support" && kind != "dev" {
                out.push(format!(
                    "{krate} depends on test-support as a {kind} dependency: it is dev-only"
                ));
            }
        }
    }
    for Rule {
        krate,
        allowed,
        why,
    } in rules
    {
        let Some(deps) = graph.get(krate) else {
            out.push(format!(
                "{krate}: no such crate in the workspace (update ARCHITECTURE.md)"
            ));
            continue;
        };
        for (dep, kind) in deps.iter().filter(|(_, kind)| kind != "dev") {
            let refused = match allowed {
                Allowed::Only(only) => !only.contains(dep),
                Allowed::Not(not) => not.contains(dep),
            };
            if refused {
                out.push(format!("{krate} depends on {dep} ({kind}): {why}"));
            }
        }
    }
    out
}

pub(crate) fn run() -> Result<()> {
    let rules = rules(&architecture()?)?;
    let broken = violations(&graph()?, &rules);
    if broken.is_empty() {
        eprintln!("arch: the crate graph keeps its {} invariants", rules.len());
        return Ok(());
    }
    bail!(
        "the crate graph breaks ARCHITECTURE.md:\n  {}",
        broken.join("\n  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_keeps_its_invariants() {
        let rules = rules(&architecture().unwrap()).unwrap();
        let broken = violations(&graph().unwrap(), &rules);
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }

    #[test]
    fn rows_are_read() {
        let doc = "# A\n\n## Invariants of the crate graph\n\n| crate | deps | why |\n|---|---|---|\n\
                   | `a` | nothing | low |\n| `b` | `a`, `c` | mid |\n| `d` | anything but `b` | high |\n\n## Next\n| `x` | nothing | not read |\n";
        let read = rules(doc).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].allowed, Allowed::Only(vec![]));
        assert_eq!(read[1].allowed, Allowed::Only(vec!["a".into(), "c".into()]));
        assert_eq!(read[2].allowed, Allowed::Not(vec!["b".into()]));
        assert_eq!(read[2].why, "high");
        assert!(rules("no table").is_err());
    }

    #[test]
    fn an_upward_dependency_is_named() {
        let mut graph = graph().unwrap();
        graph
            .get_mut("registry")
            .unwrap()
            .push(("launcher-slurm".into(), "normal".into()));
        graph
            .get_mut("matcher")
            .unwrap()
            .push(("test-support".into(), "normal".into()));
        let broken = violations(&graph, &rules(&architecture().unwrap()).unwrap());
        assert!(
            broken
                .iter()
                .any(|b| b.starts_with("registry depends on launcher-slurm")),
            "{broken:?}"
        );
        assert!(
            broken
                .iter()
                .any(|b| b.starts_with("matcher depends on test-support as a normal")),
            "{broken:?}"
        );
    }
}
