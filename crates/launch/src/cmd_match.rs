//! `launch match [--json] --host FILE EXPR`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use matcher::PreparedHost;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print `{"matched": ...}` as JSON.
    #[arg(long)]
    json: bool,
    /// The host specification: TOML or JSON, by extension.
    #[arg(long, value_name = "FILE")]
    host: PathBuf,
    /// The requirement, or `-` to read one per line from stdin (JSON Lines out).
    expr: String,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let host = hostspec::load(&args.host)?;
    let prepared = PreparedHost::new(&host);
    if args.expr == "-" {
        crate::batch::run(|req, buf| {
            let found = prepared.match_requirement(req);
            write_json(buf, found.as_ref().map(|m| (m.alternative, m.score)));
            Ok(())
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let req = reqparse::parse(&args.expr)?;
    let found = prepared.match_requirement(&req);
    if args.json {
        let mut buf = Vec::new();
        write_json(&mut buf, found.as_ref().map(|m| (m.alternative, m.score)));
        outln!("{}", String::from_utf8_lossy(&buf))?;
    } else if let Some(m) = &found {
        let alt = &req.alternatives[m.alternative];
        outln!("alternative {} matches: {alt}", m.alternative)?;
        outln!("score: {}", score_text(m.score))?;
        for (request, device) in alt.accelerators.iter().zip(m.assignment.iter()) {
            let spec = &host.accelerators[device];
            let model = spec.model.as_deref().unwrap_or("");
            outln!(
                "  {}(mem={}) -> accelerator {device}: {} {} {model}",
                request.kind,
                request.memory,
                spec.kind.host_name(),
                spec.memory
            )?;
        }
    }
    if found.is_none() {
        let mut why = format!("no alternative matches {}:", args.host.display());
        for (i, alt) in req.alternatives.iter().enumerate() {
            let reasons: Vec<String> = matcher::mismatches(alt, &host)
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = write!(why, "\n  alternative {i} ({alt}): {}", reasons.join("; "));
        }
        eprintln!("{why}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// A score as JSON shows it: a whole number without a fraction.
fn score_text(score: f64) -> String {
    if score.fract() == 0.0 && score.abs() < 9.0e15 {
        format!("{}", score as i64)
    } else {
        format!("{score}")
    }
}

/// `{"matched": true, "alternative": i, "score": s}` or `{"matched": false}`.
fn write_json(buf: &mut Vec<u8>, found: Option<(usize, f64)>) {
    match found {
        Some((alternative, score)) => {
            // Writing into a Vec cannot fail.
            let _ = write!(
                buf,
                r#"{{"matched": true, "alternative": {alternative}, "score": {}}}"#,
                score_text(score)
            );
        }
        None => buf.extend_from_slice(br#"{"matched": false}"#),
    }
}
