//! `cargo xtask arch`: the crate graph's invariants (ARCHITECTURE.md),
//! checked against `cargo metadata`. `cargo xtask test` runs it first, and
//! the unit test below runs it within `cargo test --workspace`.
//!
//! Each rule names a crate and the workspace crates its normal (and build)
//! dependencies may include; dev-dependencies are for tests and may name
//! any crate, and `test-support` may be nothing else.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// What a crate may depend on: `Only` these workspace crates, or `Not`
/// these.
enum Allowed {
    Only(&'static [&'static str]),
    Not(&'static [&'static str]),
}

const FILE_AND_ABOVE: &[&str] = &["registry", "launcher-factory", "launch"];

/// The invariants, one per crate that has one.
const RULES: &[(&str, Allowed, &str)] = &[
    (
        "core-types",
        Allowed::Only(&[]),
        "the shared vocabulary depends on no workspace crate",
    ),
    (
        "reqparse",
        Allowed::Only(&["core-types"]),
        "the parser is the language alone",
    ),
    (
        "matcher",
        Allowed::Only(&["core-types"]),
        "matching is pure",
    ),
    (
        "hostspec",
        Allowed::Only(&["core-types"]),
        "host files and detection",
    ),
    (
        "slurm-options",
        Allowed::Only(&["core-types"]),
        "the one model of sbatch options sits below the file and the launcher",
    ),
    (
        "ssh-settings",
        Allowed::Only(&["core-types"]),
        "the one SSH configuration sits below the file and the connector",
    ),
    (
        "jobdir",
        Allowed::Only(&["core-types"]),
        "the job directory is shared by every launcher and needs none",
    ),
    (
        "connector-local",
        Allowed::Only(&["core-types"]),
        "a connector depends on no launcher and not on the launcher file",
    ),
    (
        "connector-ssh",
        Allowed::Only(&["core-types", "ssh-settings"]),
        "a connector depends on no launcher and not on the launcher file",
    ),
    (
        "launcher-direct",
        Allowed::Not(&[
            "launcher-slurm",
            "launcher-dynamic",
            "registry",
            "launcher-factory",
            "launch",
            "connector-ssh",
        ]),
        "a launcher depends on no other launcher and not on the launcher file",
    ),
    (
        "launcher-slurm",
        Allowed::Not(&[
            "launcher-direct",
            "launcher-dynamic",
            "registry",
            "launcher-factory",
            "launch",
            "connector-ssh",
        ]),
        "a launcher depends on no other launcher and not on the launcher file",
    ),
    (
        "launcher-dynamic",
        Allowed::Only(&["core-types"]),
        "choosing among launchers needs only the trait",
    ),
    (
        "experiment",
        Allowed::Not(FILE_AND_ABOVE),
        "an experiment runs on any launcher",
    ),
    (
        "registry",
        Allowed::Only(&[
            "core-types",
            "hostspec",
            "matcher",
            "slurm-options",
            "ssh-settings",
        ]),
        "the launcher file (format and finder) depends on no launcher and no connector",
    ),
    (
        "launcher-factory",
        Allowed::Not(&["launch"]),
        "making launchers lives above every launcher, connector and the file",
    ),
];

/// Each workspace crate's workspace dependencies: `(name, kind)` with kind
/// `normal`, `dev` or `build`.
type Graph = BTreeMap<String, Vec<(String, String)>>;

fn graph() -> Result<Graph> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(crate::codegen::workspace_root())
        .output()
        .with_context(|| format!("running {cargo} metadata"))?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
fn violations(graph: &Graph) -> Vec<String> {
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
    for (krate, allowed, why) in RULES {
        let Some(deps) = graph.get(*krate) else {
            out.push(format!(
                "{krate}: no such crate in the workspace (update xtask/src/arch.rs)"
            ));
            continue;
        };
        for (dep, kind) in deps.iter().filter(|(_, kind)| kind != "dev") {
            let refused = match allowed {
                Allowed::Only(only) => !only.contains(&dep.as_str()),
                Allowed::Not(not) => not.contains(&dep.as_str()),
            };
            if refused {
                out.push(format!("{krate} depends on {dep} ({kind}): {why}"));
            }
        }
    }
    out
}

pub(crate) fn run() -> Result<()> {
    let broken = violations(&graph()?);
    if broken.is_empty() {
        eprintln!("arch: the crate graph keeps its {} invariants", RULES.len());
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
        let broken = violations(&graph().unwrap());
        assert!(broken.is_empty(), "{}", broken.join("\n"));
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
        let broken = violations(&graph);
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
