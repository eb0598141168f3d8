//! `launch find [--json] [--explain] [--config FILE] [--tag T]... EXPR`:
//! which launcher the launcher file yields for EXPR, and why.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use core_types::job::Choose;
use registry::{ConnectorConfig, EntryKind, Explanation, Registry};
use serde::Serialize;
use slurm_options::SlurmOptions;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print `{"launcher": ..., "type": ..., "alternative": ..., "options": {...}}`.
    #[arg(long)]
    json: bool,
    /// Also show, for each alternative tried, each launcher's verdict.
    #[arg(long)]
    explain: bool,
    /// The launcher file (default: `$LAUNCH_CONFIG`, then
    /// `$XDG_CONFIG_HOME/launch/launchers.toml`, else this machine).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only launchers carrying one of these tags.
    #[arg(long = "tag", value_name = "T")]
    tags: Vec<String>,
    /// What the job needs (`duration=2h & cuda(mem=8G)`).
    expr: String,
}

/// The JSON object of `docs/cli.md`; `members` only for a dynamic
/// launcher, `explanation` only with `--explain`.
#[derive(Debug, Serialize)]
struct FoundJson<'a> {
    launcher: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    alternative: usize,
    options: &'a SlurmOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<&'a Explanation>,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let requirement = reqparse::parse(&args.expr)?;
    let (source, registry) = registry::load_discovered(args.config.as_deref())?;
    let explanation = registry.explain(&requirement, &args.tags);
    let Some(found) = &explanation.found else {
        if args.json {
            let nothing = serde_json::json!({ "launcher": null, "explanation": &explanation });
            outln!("{}", serde_json::to_string(&nothing)?)?;
        }
        eprintln!(
            "launch: no launcher{} matches `{requirement}` ({source})",
            tagged(&args.tags)
        );
        eprint!("{explanation}");
        return Ok(ExitCode::from(1));
    };
    let entry = &registry.entries()[found.entry];
    let members: Vec<&str> = found
        .members
        .iter()
        .map(|&m| registry.entries()[m].name.as_str())
        .collect();
    if args.json {
        let json = FoundJson {
            launcher: &entry.name,
            kind: entry.type_name(),
            alternative: found.alternative,
            options: &found.options,
            members: matches!(entry.kind, EntryKind::Dynamic { .. }).then_some(members),
            explanation: args.explain.then_some(&explanation),
        };
        outln!("{}", serde_json::to_string(&json)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let alt = &requirement.alternatives[found.alternative];
    outln!(
        "launcher: {} ({})",
        entry.name,
        where_it_runs(&registry, found.entry)
    )?;
    outln!("alternative {}: {alt}", found.alternative)?;
    if !found.options.is_empty() {
        outln!("sbatch options: {}", found.options.to_args().join(" "))?;
    }
    if !members.is_empty() {
        outln!("members that match: {}", members.join(", "))?;
    }
    outln!("launcher file: {source}")?;
    if args.explain {
        out!("\n{explanation}")?;
        if let EntryKind::Dynamic {
            choose: Choose::EarliestStart,
            refresh,
            ..
        } = &entry.kind
        {
            explain_starts(&registry, found, alt, *refresh)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each member's expected start for a job of `alt` and why the chosen
/// one won, as `launch run` would choose now.
fn explain_starts(
    registry: &Registry,
    found: &registry::Found,
    alt: &core_types::Alternative,
    refresh: std::time::Duration,
) -> Result<()> {
    let launchers =
        launcher_factory::Launchers::new(registry.clone(), launcher_factory::StandardBackend);
    let job = core_types::job::Job::new("", ["true"]).alternative(alt.clone());
    outln!(
        "\nexpected starts (the earliest start wins, priority breaks ties; answers kept {}):",
        core_types::Walltime::from_seconds(refresh.as_secs())
    )?;
    match launchers.decide(found, &job) {
        Ok(Some(decision)) => outln!("{decision:#}")?,
        Ok(None) => outln!("  (no member answers)")?,
        Err(e) => outln!(
            "  cannot ask the members: {}",
            core_types::text::error_chain(&e)
        )?,
    }
    Ok(())
}

/// ` tagged a or b`, or nothing.
pub(crate) fn tagged(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(" tagged {}", tags.join(" or "))
    }
}

/// `direct on local`, `slurm on cluster (ssh login:22)`, `dynamic over a, b`.
fn where_it_runs(registry: &Registry, index: usize) -> String {
    let entry = &registry.entries()[index];
    match &entry.kind {
        EntryKind::Direct { connector, .. } | EntryKind::Slurm { connector, .. } => {
            match registry.connector(connector) {
                Some(ConnectorConfig::Ssh(_)) | None => format!(
                    "{} on {connector}: {}",
                    entry.type_name(),
                    registry
                        .connector(connector)
                        .map_or_else(String::new, ConnectorConfig::describe)
                ),
                Some(ConnectorConfig::Local) => format!("{} on this machine", entry.type_name()),
            }
        }
        EntryKind::Dynamic {
            members, choose, ..
        } => format!(
            "dynamic over {}, {}",
            members.join(", "),
            match choose {
                Choose::Sample => "picked in proportion to priority",
                Choose::Priority => "the highest priority",
                Choose::EarliestStart => "the earliest expected start",
            }
        ),
    }
}
