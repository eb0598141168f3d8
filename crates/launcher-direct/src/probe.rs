//! When a job would start on a direct launcher's machine, asked without
//! taking anything: a short `sh` script reads the machine's ledger (and,
//! for each holder, when it started and its time limit), through the
//! connector, so over SSH as here; pure functions say whether the job's
//! share is free now, else when enough holders reach their time limits.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_types::HostSpec;
use core_types::job::{Job, ProcessSpec, Start, StartEstimate};

use crate::ledger::{self, Ledger};
use crate::sched::Need;
use crate::{DirectError, DirectLauncher};

/// Prints `now EPOCH`, each ledger line as `l LINE`, and for each holder
/// `t SEQ STARTED LIMIT ENDED` (`-` for what is unknown; ENDED 1 when its
/// directory says it ended). Reads only: takes no lock, writes nothing.
/// `$1`: the ledger's directory, empty for the per-user default.
/// Run after [`ledger::DEFAULT_DIR`].
const READ_LEDGER: &str = r#"L=$1
lg_default_dir
printf 'now %s\n' "$(date +%s)"
[ -r "$L/ledger" ] || exit 0
set -f
while IFS= read -r line; do
	printf 'l %s\n' "$line"
	case $line in
	'h '*)
		set -- $line
		dir=
		{ read -r dir < "$L/d.$2"; } 2> /dev/null
		started=- limit=- ended=0
		if [ -n "$dir" ]; then
			started=$(date -r "$dir/pid" +%s 2> /dev/null || date -r "$L/d.$2" +%s 2> /dev/null) || started=-
			limit=$(sed -n 's/.*"time_limit_s": *\([0-9][0-9]*\).*/\1/p' "$dir/job.json" 2> /dev/null)
			st=
			{ read -r st < "$dir/state"; } 2> /dev/null
			[ -z "$st" ] || ended=1
		fi
		printf 't %s %s %s %s\n' "$2" "${started:--}" "${limit:--}" "$ended"
		;;
	esac
done < "$L/ledger"
"#;

/// What the script printed, read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The machine's clock (seconds since the epoch).
    pub now: u64,
    /// The ledger.
    pub ledger: Ledger,
    /// For each holder's ticket: (started, time limit in seconds, ended).
    pub times: HashMap<u64, (Option<u64>, Option<u64>, bool)>,
}

/// Reads what [`READ_LEDGER`] printed.
pub(crate) fn snapshot(text: &str) -> Snapshot {
    let mut now = 0;
    let mut lines = String::new();
    let mut times = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("now ") {
            now = rest.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("l ") {
            lines.push_str(rest);
            lines.push('\n');
        } else if let Some(rest) = line.strip_prefix("t ") {
            let f: Vec<&str> = rest.split(' ').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            if let Some(seq) = num(0) {
                let limit = num(2).filter(|&l| l > 0);
                times.insert(seq, (num(1), limit, f.get(3) == Some(&"1")));
            }
        }
    }
    Snapshot {
        now,
        ledger: ledger::parse(&lines),
        times,
    }
}

/// What a job asks, as the ledger counts it.
struct Ask<'a> {
    cores: u64,
    memory_kib: u64,
    tokens: &'a [(String, u32, u32)],
    plan: String,
}

/// Whether `ask` fits beside `holders` on `host` ([`ledger::shortfall`]).
fn fits(host: &HostSpec, ask: &Ask<'_>, holders: &[&ledger::Entry]) -> bool {
    let want = ledger::Want {
        cores: ask.cores,
        memory_kib: ask.memory_kib,
        tokens: ask
            .tokens
            .iter()
            .map(|(name, k, count)| (name.as_str(), u64::from(*k), u64::from(*count)))
            .collect(),
        devices: &ask.plan,
        capacity: (host.cores, host.memory.bytes() / 1024),
    };
    ledger::shortfall(&want, holders.iter().copied()).is_none()
}

/// When the job would start, from `snap`: now when its share is free and
/// no one waits; else when enough holders reach their time limits (in
/// order of their ends); later (unknown) when a holder it must outwait
/// has no known end, or jobs wait before it.
fn estimate(host: &HostSpec, ask: &Ask<'_>, snap: &Snapshot) -> StartEstimate {
    let mut holders: Vec<(&ledger::Entry, Option<u64>)> = snap
        .ledger
        .entries
        .iter()
        .filter(|e| e.holds)
        .filter_map(|e| match snap.times.get(&e.seq) {
            Some((_, _, true)) => None,
            Some((Some(started), Some(limit), false)) => Some((e, Some(started + limit))),
            _ => Some((e, None)),
        })
        .collect();
    let waiting = snap.ledger.entries.iter().filter(|e| !e.holds).count();
    let in_use: u64 = holders.iter().map(|(e, _)| e.cores).sum();
    let all: Vec<&ledger::Entry> = holders.iter().map(|(e, _)| *e).collect();
    if waiting > 0 {
        return StartEstimate::new(
            Start::Later,
            format!("{waiting} job(s) wait in the machine's ledger"),
        );
    }
    if fits(host, ask, &all) {
        return StartEstimate::new(
            Start::Now,
            format!(
                "its share is free ({in_use} of {} cores in use)",
                host.cores
            ),
        );
    }
    // Ends known first, earliest first; unknown ends last.
    holders.sort_by_key(|(_, end)| end.unwrap_or(u64::MAX));
    for n in 1..=holders.len() {
        let rest: Vec<&ledger::Entry> = holders[n..].iter().map(|(e, _)| *e).collect();
        if fits(host, ask, &rest) {
            return match holders[n - 1].1 {
                Some(end) => StartEstimate::new(
                    Start::At(UNIX_EPOCH + Duration::from_secs(end)),
                    format!(
                        "when {n} of the {} job(s) holding the machine reach their time limits",
                        holders.len()
                    ),
                ),
                None => StartEstimate::new(
                    Start::Later,
                    format!(
                        "busy ({in_use} of {} cores in use), no end known",
                        host.cores
                    ),
                ),
            };
        }
    }
    StartEstimate::new(
        Start::Later,
        "busy: its share does not come free as the holders end".to_owned(),
    )
}

impl DirectLauncher {
    /// When `job` would start on this launcher's machine, from its ledger,
    /// read without taking anything (see the module's text). A job the
    /// host can never hold is [`Start::Never`]; a machine that cannot be
    /// asked (the connection refused, `sh` failing) is an error.
    pub fn start_estimate(&self, job: &Job) -> Result<StartEstimate, DirectError> {
        let need = Need::of(&job.alternative);
        let host = self.host();
        if let Some(reason) = self.inner.sched.lock().capacity.never_fits(&need) {
            return Ok(StartEstimate::new(Start::Never, reason));
        }
        let tokens = self.tokens_of(job)?;
        let dir = self
            .inner
            .config
            .ledger
            .as_ref()
            .map(|d| d.clone().into_os_string())
            .unwrap_or_default();
        let spec = ProcessSpec::new("sh").args([
            std::ffi::OsString::from("-c"),
            format!("{}{READ_LEDGER}", ledger::DEFAULT_DIR).into(),
            "sh".into(),
            dir,
        ]);
        let out = self.inner.connector.run(&spec)?;
        let snap = snapshot(&String::from_utf8_lossy(&out.stdout));
        let ask = Ask {
            cores: need.cores,
            memory_kib: need.memory.div_ceil(1024),
            tokens: &tokens,
            plan: ledger::device_plan(&host, &need.accelerators),
        };
        let mut estimate = estimate(&host, &ask, &snap);
        // The machine's clock says how far the ends are; ours compares.
        if let Start::At(at) = estimate.start {
            let wait = at
                .duration_since(UNIX_EPOCH + Duration::from_secs(snap.now))
                .unwrap_or_default();
            estimate.start = Start::At(SystemTime::now() + wait);
        }
        Ok(estimate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(cores: u64) -> HostSpec {
        HostSpec {
            cores,
            ..HostSpec::default()
        }
    }

    fn ask(cores: u64) -> Ask<'static> {
        Ask {
            cores,
            memory_kib: 0,
            tokens: &[],
            plan: "-".into(),
        }
    }

    const TWO_HOLDERS: &str = "now 1000\n\
        l next 3\n\
        l h 1 100 5 = 2 0 - -\n\
        l h 2 101 6 = 1 0 - -\n\
        t 1 900 600 0\n\
        t 2 950 - 0\n";

    #[test]
    fn free_busy_and_ends() {
        let empty = snapshot("now 1000\n");
        assert_eq!(estimate(&host(4), &ask(4), &empty).start, Start::Now);
        let snap = snapshot(TWO_HOLDERS);
        assert_eq!(snap.times[&1], (Some(900), Some(600), false));
        assert_eq!(estimate(&host(4), &ask(1), &snap).start, Start::Now);
        // Two cores free once holder 1 (900 + 600) ends.
        let at = estimate(&host(4), &ask(3), &snap);
        assert_eq!(
            at.start,
            Start::At(UNIX_EPOCH + Duration::from_secs(1500)),
            "{at:?}"
        );
        // All four cores: holder 2 has no known end.
        assert_eq!(estimate(&host(4), &ask(4), &snap).start, Start::Later);
        // An ended holder holds nothing.
        let ended = snapshot(&TWO_HOLDERS.replace("t 2 950 - 0", "t 2 950 - 1"));
        assert_eq!(
            estimate(&host(4), &ask(4), &ended).start,
            Start::At(UNIX_EPOCH + Duration::from_secs(1500))
        );
        let waiter = snapshot(&format!("{TWO_HOLDERS}l w 3 102 7 = 4 0 4 0 - - 16 0\n"));
        assert_eq!(estimate(&host(4), &ask(1), &waiter).start, Start::Later);
    }

    #[test]
    fn tokens_and_devices() {
        let snap = snapshot("now 5\nl h 1 100 5 = 1 0 gpu=2/2 cuda:0\nt 1 1 - 0\n");
        let tokens = [("gpu".to_owned(), 1, 2)];
        let with_token = Ask {
            tokens: &tokens,
            ..ask(1)
        };
        assert!(!fits(
            &host(8),
            &with_token,
            &snap.ledger.entries.iter().collect::<Vec<_>>()
        ));
        let device = Ask {
            plan: "1/cuda:0,cuda:1".into(),
            ..ask(1)
        };
        let holders: Vec<&ledger::Entry> = snap.ledger.entries.iter().collect();
        assert!(fits(&host(8), &device, &holders));
        let both = Ask {
            plan: "2/cuda:0,cuda:1".into(),
            ..ask(1)
        };
        assert!(!fits(&host(8), &both, &holders));
    }
}
