//! `launch run [--config FILE] [--tag T]... [--token NAME[=K]]... [--name NAME] [--array RANGE[%N]] [--job-dir DIR] [--detach] EXPR -- COMMAND [ARGS...]`.
//!
//! Finds where the job can run (with no launcher file: this machine, through
//! the direct launcher), submits it, copies its output as it is written,
//! shows its progress on stderr when stderr is a terminal, and exits with
//! its exit status (1 when it failed without one). Ctrl-C cancels it.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use core_types::job::{Connector, FailReason, Job, JobHandle, JobState, Launcher};
use launcher_factory::LauncherFinder as _;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The launcher file (`launchers.toml`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only launchers carrying one of these tags.
    #[arg(long = "tag", value_name = "T")]
    tags: Vec<String>,
    /// The job directory (default: a fresh one under
    /// `$XDG_STATE_HOME/launch/jobs`, `NAME-XXXXXX`, named on stderr).
    #[arg(long, value_name = "DIR")]
    pub(crate) job_dir: Option<PathBuf>,
    /// The job's name (default: the command's file name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Run an array of tasks (`1-100`, `0-30:3`, `1,5,9`; `%N`: at most N
    /// at once), each a job of its own in `DIR/INDEX` with
    /// `LAUNCH_ARRAY_INDEX` set.
    #[arg(long, value_name = "RANGE[%N]")]
    pub(crate) array: Option<jobset::ArraySpec>,
    /// Submit, print the job directory, exit at once; the job goes on alone.
    #[arg(long)]
    pub(crate) detach: bool,
    /// Take K (default 1) of a token of the launcher file (`[token.NAME]`)
    /// for the job's life; the job waits until they are free.
    #[arg(long = "token", value_name = "NAME[=K]", value_parser = parse_token)]
    pub(crate) tokens: Vec<(String, u32)>,
    /// What the job needs (`duration=2h & cuda(mem=8G)`); its duration is a
    /// time limit.
    expr: String,
    /// The command and its arguments, after `--`, passed verbatim.
    #[arg(last = true, required = true, num_args = 1.., value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

/// `NAME` or `NAME=K`, K at least 1.
fn parse_token(text: &str) -> std::result::Result<(String, u32), String> {
    let (name, count) = match text.split_once('=') {
        Some((name, k)) => (
            name,
            k.parse::<u32>()
                .ok()
                .filter(|&k| k >= 1)
                .ok_or_else(|| format!("`{k}` is not a count of at least 1"))?,
        ),
        None => (text, 1),
    };
    if name.is_empty() {
        return Err("the token has no name".into());
    }
    Ok((name.to_owned(), count))
}

/// Every token asked for is declared in the launcher file.
fn check_tokens(
    tokens: &[(String, u32)],
    declared: &std::collections::BTreeMap<String, u32>,
    source: &impl std::fmt::Display,
) -> Result<()> {
    for (name, _) in tokens {
        if !declared.contains_key(name) {
            bail!(
                "{source}: no token is named `{}` (declare it in a [token.{0}] table with `count = N`){}",
                core_types::text::printable(name),
                core_types::suggest::did_you_mean(name, declared.keys().map(String::as_str))
            );
        }
    }
    Ok(())
}

impl Args {
    /// The job's name: `--name`, else the command's file name.
    pub(crate) fn job_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            Job::new("", self.command.iter().take(1).cloned())
                .name
                .clone()
        })
    }
}

fn job_dir(args: &Args) -> Result<PathBuf> {
    if let Some(dir) = &args.job_dir {
        return Ok(if dir.is_absolute() {
            dir.clone()
        } else {
            std::env::current_dir()
                .context("cannot read the current directory")?
                .join(dir)
        });
    }
    let home = jobset::jobs_home();
    std::fs::create_dir_all(&home)
        .with_context(|| format!("cannot create the jobs directory `{}`", home.display()))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-", jobset::dir_prefix(&args.job_name())))
        .rand_bytes(6)
        .tempdir_in(&home)
        .with_context(|| format!("cannot create a job directory in `{}`", home.display()))?;
    Ok(dir.keep())
}

/// The job directory on another machine: `--job-dir` (under the remote
/// home when relative), else a new one under the remote home's
/// `.local/state/launch/jobs`, `NAME-XXXXXX`.
fn remote_job_dir(args: &Args, connector: &dyn Connector) -> Result<PathBuf> {
    let out = connector
        .run(&core_types::job::ProcessSpec::new("sh").args(["-c", "printf '%s' \"$HOME\""]))
        .with_context(|| format!("cannot reach {}", connector.name()))?;
    let home = PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned());
    if !home.is_absolute() {
        bail!(
            "{} has no home directory ($HOME is `{}`)",
            connector.name(),
            home.display()
        );
    }
    if let Some(dir) = &args.job_dir {
        return Ok(home.join(dir));
    }
    let suffix: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
        .take(6)
        .map(char::from)
        .collect();
    Ok(home.join(format!(
        ".local/state/launch/jobs/{}-{suffix}",
        jobset::dir_prefix(&args.job_name())
    )))
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let requirement = reqparse::parse(&args.expr)?;
    let (source, registry) = registry::load_discovered(args.config.as_deref())?;
    check_tokens(&args.tokens, registry.tokens(), &source)?;
    let launchers = launcher_factory::Launchers::new(registry, launcher_factory::StandardBackend);
    let choice = match launchers.find_launcher(&requirement, &args.tags) {
        Ok(choice) => choice,
        Err(launcher_factory::FindError::NoMatch { explanation, .. }) => {
            eprintln!(
                "launch: no launcher{} matches `{requirement}` ({source}):",
                crate::cmd_find::tagged(&args.tags)
            );
            if let Some(why) = explanation {
                eprint!("{why}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(connector) = choice.connector.clone() else {
        bail!(
            "launcher `{}` picks among machines reached through different connectors, \
             and `launch run` follows a job through one",
            choice.name
        );
    };
    let launcher = &choice.launcher;
    let alternative = requirement.alternatives[choice.alternative].clone();
    // A dynamic launcher choosing the earliest start says each member's
    // expected start and why the chosen one won (the answers are kept:
    // the submission below chooses from them).
    let decision = (launcher.kind() == "dynamic")
        .then(|| {
            let mut probe =
                Job::new("", args.command.iter().cloned()).alternative(alternative.clone());
            probe.tokens.clone_from(&args.tokens);
            launcher.expected_start(&probe)
        })
        .flatten()
        .and_then(Result::ok);
    match decision {
        Some(estimate) => eprintln!("launch: launcher {} ({})", choice.name, estimate.why),
        None => eprintln!("launch: launcher {} ({})", choice.name, launcher.describe()),
    }
    // A connector to another machine is named by its address
    // (`ssh://user@host:port`): the job's directory is on that machine.
    let address = connector.name();
    let remote = address.starts_with("ssh://");
    let dir = if remote {
        remote_job_dir(args, connector.as_ref())?
    } else {
        job_dir(args)?
    };
    let shown = if remote {
        format!("{address}{}", dir.display())
    } else {
        dir.display().to_string()
    };
    if let Some(spec) = &args.array {
        return crate::cmd_array::run(
            args,
            spec,
            &crate::cmd_array::Place {
                launcher,
                connector: &connector,
                dir: &dir,
                shown: &shown,
                remote,
                alternative: &alternative,
            },
        );
    }
    let mut job = Job::new(&dir, args.command.iter().cloned())
        .name(args.job_name())
        .alternative(alternative)
        .detach(args.detach);
    job.tokens.clone_from(&args.tokens);
    if !remote {
        // The job runs where `launch run` was started, as a local command
        // would (on another machine, in its job directory).
        job = job.cwd(std::env::current_dir().context("cannot read the current directory")?);
    }
    // Ctrl-C is caught before the job starts, so it always cancels it.
    let interrupted = Arc::new(AtomicBool::new(false));
    if !args.detach {
        let flag = Arc::clone(&interrupted);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("cannot catch Ctrl-C")?;
    }
    let handle = launcher.submit(job)?;
    crate::jobs::index(&shown);
    if args.detach {
        outln!("{shown}")?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("launch: job directory {shown}");
    follow(handle.as_ref(), &connector, &dir, &interrupted)
}

/// Copies what a job writes to a file of its directory to one of ours.
pub(crate) struct Tail {
    pub(crate) path: PathBuf,
    pub(crate) offset: u64,
}

impl Tail {
    pub(crate) fn copy(
        &mut self,
        connector: &Arc<dyn Connector>,
        out: &mut dyn Write,
    ) -> Result<bool> {
        const CHUNK: usize = 1 << 20;
        let mut any = false;
        loop {
            let bytes = match connector.read_file_from(&self.path, self.offset, CHUNK) {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => return Ok(any),
                Err(e) => return Err(e.into()),
            };
            if bytes.is_empty() {
                return Ok(any);
            }
            any = true;
            self.offset += bytes.len() as u64;
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
}

pub(crate) fn progress() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar
}

/// Follows an attached job to its end: output copied live, progress on
/// stderr, Ctrl-C cancels.
fn follow(
    handle: &dyn JobHandle,
    connector: &Arc<dyn Connector>,
    dir: &Path,
    interrupted: &AtomicBool,
) -> Result<ExitCode> {
    let mut out = Tail {
        path: dir.join(jobdir::STDOUT),
        offset: 0,
    };
    let mut err = Tail {
        path: dir.join(jobdir::STDERR),
        offset: 0,
    };
    let bar = progress();
    let started = Instant::now();
    let mut cancelled = false;
    let state = loop {
        let ended = handle.wait_timeout(Duration::from_millis(50))?;
        let (stdout, stderr) = (&mut std::io::stdout(), &mut std::io::stderr());
        bar.suspend(|| -> Result<()> {
            out.copy(connector, stdout)?;
            err.copy(connector, stderr)?;
            Ok(())
        })?;
        if let Some(state) = ended {
            break state;
        }
        if interrupted.load(Ordering::SeqCst) && !cancelled {
            cancelled = true;
            bar.suspend(|| eprintln!("launch: interrupted, cancelling the job"));
            bar.set_message("cancelling");
            handle.cancel()?;
            continue;
        }
        if !cancelled {
            let what = match (handle.state()?, handle.pending_reason()) {
                (JobState::Scheduled, Some(reason)) => format!("waiting ({reason})"),
                (JobState::Scheduled, None) => "waiting for room on this machine".to_owned(),
                _ => "running".to_owned(),
            };
            bar.set_message(format!("job {what}"));
        }
        bar.tick();
    };
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    Ok(match state {
        JobState::Done => ExitCode::SUCCESS,
        JobState::Failed(FailReason::Cancelled) => {
            eprintln!(
                "launch: job cancelled after {elapsed:.1}s ({})",
                dir.display()
            );
            ExitCode::from(1)
        }
        JobState::Failed(FailReason::ExitCode(code)) => {
            eprintln!(
                "launch: job failed with exit code {code} ({})",
                dir.display()
            );
            exit_code_of(&JobState::Failed(FailReason::ExitCode(code)))
        }
        JobState::Failed(reason @ FailReason::NoSpace(code)) => {
            eprintln!("launch: job failed: {reason} ({})", dir.display());
            exit_code_of(&JobState::Failed(FailReason::NoSpace(code)))
        }
        other => {
            eprintln!(
                "launch: job {other} after {elapsed:.1}s ({})",
                dir.display()
            );
            ExitCode::from(1)
        }
    })
}

/// The exit status of `launch` for a job that ended so: 0 when done, its
/// exit code when it failed with one (1 when that does not fit or is 0: a
/// job that filled its disk), else 1.
pub(crate) fn exit_code_of(state: &JobState) -> ExitCode {
    match state {
        JobState::Done => ExitCode::SUCCESS,
        JobState::Failed(FailReason::ExitCode(code) | FailReason::NoSpace(code)) => {
            ExitCode::from(u8::try_from(*code).ok().filter(|&c| c != 0).unwrap_or(1))
        }
        _ => ExitCode::from(1),
    }
}
