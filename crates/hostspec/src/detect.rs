//! What the local machine offers: cores, memory, NVIDIA GPUs, Apple MPS.
//!
//! The parsers are pure functions of the text the system gives, so they are
//! tested on captured output; [`detect`] only runs the commands and reads the
//! files.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use core_types::{AcceleratorKind, AcceleratorSpec, HostSpec, MemSize};

/// How long `nvidia-smi` (or `sysctl`) may take before it is given up on.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The local machine: its cores, its total memory, its NVIDIA GPUs (through
/// `nvidia-smi`, when that program is there) and, on macOS, one `mps`
/// accelerator sharing the whole memory. Priority 0, no duration limit, no
/// `min_gpu`.
///
/// Never fails: what cannot be found is left out (no GPUs) or estimated
/// (1 core, 0 bytes of memory when the system does not say).
pub fn detect() -> HostSpec {
    let cores = std::thread::available_parallelism()
        .ok()
        .and_then(|n| u64::try_from(n.get()).ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|text| parse_cpuinfo(&text))
        })
        .unwrap_or(1);
    let memory = detect_memory().unwrap_or(MemSize::ZERO);
    let mut accelerators = Vec::new();
    if let Some(text) = run(
        "nvidia-smi",
        &[
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
        ],
    ) {
        accelerators.extend(parse_nvidia_smi(&text));
    }
    if cfg!(target_os = "macos") {
        accelerators.push(AcceleratorSpec {
            kind: AcceleratorKind::Mps,
            memory,
            min_memory: MemSize::ZERO,
            model: None,
            slurm_type: None,
        });
    }
    HostSpec {
        cores,
        memory,
        accelerators,
        ..HostSpec::default()
    }
}

fn detect_memory() -> Option<MemSize> {
    if cfg!(target_os = "macos") {
        run("sysctl", &["hw.memsize"]).and_then(|text| parse_sysctl_memsize(&text))
    } else {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| parse_meminfo(&text))
    }
}

/// Runs `program` with `args` and returns its standard output when it
/// exists, exits successfully and answers within [`COMMAND_TIMEOUT`].
fn run(program: &str, args: &[&str]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    // Read on a thread so that a chatty program cannot block on a full pipe
    // while we wait for it.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok().map(|_| text)
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = reader.join().ok().flatten();
    if status?.success() { text } else { None }
}

/// The GPUs listed by `nvidia-smi --query-gpu=name,memory.total
/// --format=csv,noheader,nounits`: one line per GPU, `NAME, MiB`.
///
/// Lines that do not read as a name and a whole number of MiB (`[N/A]`,
/// error text) are skipped.
///
/// ```
/// let gpus = hostspec::parse_nvidia_smi("NVIDIA A100-SXM4-80GB, 81920\n");
/// assert_eq!(gpus.len(), 1);
/// assert_eq!(gpus[0].memory.to_string(), "80GiB");
/// assert_eq!(gpus[0].model.as_deref(), Some("NVIDIA A100-SXM4-80GB"));
/// ```
pub fn parse_nvidia_smi(text: &str) -> Vec<AcceleratorSpec> {
    text.lines()
        .filter_map(|line| {
            let (name, mib) = line.rsplit_once(',')?;
            let name = name.trim();
            let mib: u64 = mib.trim().parse().ok()?;
            let memory = MemSize::from_bytes(1 << 20).checked_mul(mib)?;
            Some(AcceleratorSpec {
                kind: AcceleratorKind::Cuda,
                memory,
                min_memory: MemSize::ZERO,
                model: (!name.is_empty()).then(|| name.to_owned()),
                slurm_type: None,
            })
        })
        .collect()
}

/// The total memory in Linux's `/proc/meminfo` (`MemTotal: 16318164 kB`,
/// where `kB` means KiB).
///
/// ```
/// let total = hostspec::parse_meminfo("MemTotal:       16318164 kB\nMemFree: 1 kB\n");
/// assert_eq!(total.map(|m| m.bytes()), Some(16_318_164 * 1024));
/// ```
pub fn parse_meminfo(text: &str) -> Option<MemSize> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let mut words = line.split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    let factor = match words.next() {
        None | Some("B") => 1,
        Some("kB" | "KB" | "KiB") => 1 << 10,
        Some("mB" | "MB" | "MiB") => 1 << 20,
        Some("gB" | "GB" | "GiB") => 1 << 30,
        Some(_) => return None,
    };
    MemSize::from_bytes(factor).checked_mul(value)
}

/// The number of processors in Linux's `/proc/cpuinfo` (its `processor`
/// lines), or `None` when there are none.
pub fn parse_cpuinfo(text: &str) -> Option<u64> {
    let count = text
        .lines()
        .filter(|line| {
            line.split(':')
                .next()
                .is_some_and(|key| key.trim() == "processor")
        })
        .count();
    u64::try_from(count).ok().filter(|&n| n > 0)
}

/// The memory size in the output of macOS's `sysctl hw.memsize`
/// (`hw.memsize: 17179869184`) or `sysctl -n hw.memsize` (`17179869184`).
pub fn parse_sysctl_memsize(text: &str) -> Option<MemSize> {
    let text = text.trim();
    let value = text.strip_prefix("hw.memsize").map_or(text, |rest| {
        rest.trim_start().trim_start_matches([':', '='])
    });
    value.trim().parse().ok().map(MemSize::from_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NVIDIA_SMI: &str = "NVIDIA A100-SXM4-80GB, 81920\n\
        NVIDIA A100-SXM4-80GB, 81920\n\
        Tesla V100-PCIE-32GB, 32768\n\
        NVIDIA GeForce RTX 3090, [N/A]\n\
        \n";

    const MEMINFO: &str = "MemTotal:       32780924 kB\n\
        MemFree:         1228400 kB\n\
        MemAvailable:   20523532 kB\n\
        Buffers:          967884 kB\n";

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n\n\
        processor\t: 1\nvendor_id\t: GenuineIntel\n\n\
        processor\t: 2\n\nprocessor\t: 3\n";

    #[test]
    fn nvidia_smi_lines() {
        let gpus = parse_nvidia_smi(NVIDIA_SMI);
        assert_eq!(gpus.len(), 3);
        assert_eq!(gpus[0].memory.bytes(), 80 << 30);
        assert_eq!(gpus[2].memory.to_string(), "32GiB");
        assert_eq!(gpus[2].model.as_deref(), Some("Tesla V100-PCIE-32GB"));
        assert!(gpus.iter().all(|g| g.kind == AcceleratorKind::Cuda));
        assert!(parse_nvidia_smi("").is_empty());
        assert!(
            parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate").is_empty()
        );
        assert!(parse_nvidia_smi("X, 99999999999999999999").is_empty());
        assert!(parse_nvidia_smi("X, 18446744073709551615").is_empty());
        // No name: the GPU is kept, without a model.
        assert_eq!(parse_nvidia_smi(", 1024")[0].model, None);
    }

    #[test]
    fn meminfo() {
        assert_eq!(parse_meminfo(MEMINFO).unwrap().bytes(), 32_780_924 * 1024);
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 1 parsecs\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 18446744073709551615 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: 1000\n").unwrap().bytes(), 1000);
    }

    #[test]
    fn cpuinfo() {
        assert_eq!(parse_cpuinfo(CPUINFO), Some(4));
        assert_eq!(parse_cpuinfo("vendor_id: x\n"), None);
        assert_eq!(parse_cpuinfo(""), None);
    }

    #[test]
    fn sysctl() {
        assert_eq!(
            parse_sysctl_memsize("hw.memsize: 17179869184\n")
                .unwrap()
                .bytes(),
            17_179_869_184
        );
        assert_eq!(
            parse_sysctl_memsize("17179869184\n").unwrap().bytes(),
            17_179_869_184
        );
        assert_eq!(
            parse_sysctl_memsize("hw.memsize = 1024").unwrap().bytes(),
            1024
        );
        assert_eq!(parse_sysctl_memsize("sysctl: unknown oid"), None);
        assert_eq!(parse_sysctl_memsize(""), None);
    }

    #[test]
    fn missing_program_is_none() {
        assert_eq!(run("/nonexistent/definitely-not-a-program", &[]), None);
    }

    #[test]
    fn detect_finds_this_machine() {
        let host = detect();
        assert!(host.cores >= 1);
        if cfg!(target_os = "linux") {
            assert!(!host.memory.is_zero());
        }
        assert!(host.max_duration.is_zero());
    }
}
