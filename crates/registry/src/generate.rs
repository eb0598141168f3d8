//! Writing a launcher file for a machine, commented for a user to edit.

use core_types::HostSpec;

/// A launcher file with one direct launcher, `local`, on this machine,
/// whose capacity is `host`; every other key is shown, commented out, with
/// what it does. [`Registry::from_toml_str`](crate::Registry::from_toml_str)
/// reads it back to a registry whose only entry has exactly `host`.
pub fn local_file(host: &HostSpec) -> String {
    let mut host_text = String::new();
    // The host's priority is the launcher's `priority` key in this file.
    for line in hostspec::to_toml_string(host).lines() {
        if !line.starts_with("priority = ") {
            host_text.push_str(line);
            host_text.push('\n');
        }
    }
    format!(
        r#"# Launchers for `launch` (see `launch find --explain` and `launch check`).
#
# `launch find`, `launch run` and programs using the `registry` crate read
# this file to decide where a job runs: the alternatives of a requirement
# are tried in order; for the first one that some launcher matches, the
# launcher with the highest priority wins (the earliest on ties). With
# `--tag T`, only launchers carrying one of the tags asked for are tried.
#
# Written for this machine by `launch generate local`; edit freely.

# Machines reached over SSH are named in connector tables; `local` is
# built in.
#
# [connector.cluster]
# type = "ssh"
# host = "login.example.org"
# port = 22
# user = "me"
# identity = "~/.ssh/id_ed25519"      # default: the SSH agent
# known_hosts = "~/.ssh/known_hosts"  # host keys are always verified
# host_key_policy = "strict"          # or "accept-new"
# timeout = "30s"
# keepalive = "60s"

[[launcher]]
name = "local"
# "direct": jobs run as processes on the connector's machine, never more at
# once than its host below can hold; each job gets accelerators of its own.
type = "direct"
connector = "local"
priority = 0        # higher is preferred
tags = []           # e.g. ["gpu", "interactive"]

# What this machine offers, as detected. Lower it to keep room for yourself
# (cores, memory), or set `max_duration` to refuse longer jobs.
[launcher.host]
{host_text}
# A Slurm partition reached through a connector; `slurm` fixes sbatch
# options (long names, `-` or `_` alike); the match derives `time`,
# `gpus-per-node`, `mem` and `cpus-per-task` when they are not fixed.
#
# [[launcher]]
# name = "gpu-fast"
# type = "slurm"
# connector = "cluster"
# priority = 10
# tags = ["gpu"]
# host = {{ cores = 32, memory = "128GiB", max_duration = "100h", accelerators = [{{ kind = "cuda", memory = "24GiB", count = 8 }}] }}
# slurm = {{ partition = "fast", qos = "normal" }}

# A launcher that picks one of its members that match: the highest priority
# (at random among ties), or with `sample = true` at random in proportion
# to priority.
#
# [[launcher]]
# name = "any"
# type = "dynamic"
# members = ["local", "gpu-fast"]
# sample = false
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_types::{AcceleratorKind, AcceleratorSpec, MemSize, Walltime};

    #[test]
    fn reads_back_to_the_same_host() {
        let host = HostSpec {
            cores: 12,
            memory: MemSize::from_bytes(64 << 30),
            accelerators: vec![
                AcceleratorSpec {
                    kind: AcceleratorKind::Cuda,
                    memory: MemSize::from_bytes(24 << 30),
                    min_memory: MemSize::ZERO,
                    model: Some("RTX \"4090\"".into()),
                    slurm_type: None,
                };
                2
            ],
            max_duration: Walltime::from_seconds(3600),
            ..HostSpec::default()
        };
        let text = local_file(&host);
        let registry = crate::Registry::from_toml_str(&text, "generated.toml").unwrap();
        assert_eq!(registry.entries().len(), 1);
        let entry = &registry.entries()[0];
        assert_eq!(entry.name, "local");
        assert_eq!(entry.type_name(), "direct");
        assert_eq!(entry.host(), Some(&host));
    }

    #[test]
    fn the_commented_examples_are_valid() {
        // Uncommenting the examples gives a valid file.
        let host = HostSpec {
            cores: 1,
            memory: MemSize::from_bytes(1 << 30),
            ..HostSpec::default()
        };
        let text: String = local_file(&host)
            .lines()
            .map(|l| {
                let code = l.strip_prefix("# ").unwrap_or(l);
                let looks_like_toml = code.starts_with('[')
                    || code.split_once(" = ").is_some_and(|(k, _)| {
                        k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    });
                if looks_like_toml { code } else { "" }.to_owned() + "\n"
            })
            .collect();
        let registry = crate::Registry::from_toml_str(&text, "uncommented.toml").unwrap();
        let names: Vec<&str> = registry.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["local", "gpu-fast", "any"]);
        assert!(registry.connector("cluster").is_some());
    }
}
