//! `launch` as a user on a laptop has it: the cluster is an alias of
//! `~/.ssh/config` reached through a bastion (`ProxyJump`), the launcher
//! file names only the alias (in a `[connector]` table and as an
//! `ssh://` address), on both transports. The test sshd's bastion (`cargo
//! xtask sshd up` starts it at `LogLevel DEBUG1`) logs each forwarded
//! connection, which shows that the jobs went through it.

use std::path::Path;

use test_support::bastion;

use crate::cli_find::launch_in;
use crate::ssh::{final_status, run_one_core, sshd, text, user};

/// `HOME/.ssh/config`: `bastion`, and `cluster` behind it; every setting
/// (user, key, known hosts) only there.
fn ssh_config(home: &Path, sshd: &Path, port: u16, bastion: u16) {
    let dir = home.join(".ssh");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        format!(
            "Host bastion\n  HostName 127.0.0.1\n  Port {bastion}\n\n\
             Host cluster\n  HostName 127.0.0.1\n  Port {port}\n  ProxyJump bastion\n\n\
             Host *\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n",
            user = user(),
            key = sshd.join("id_ed25519").display(),
            kh = sshd.join("known_hosts").display(),
        ),
    )
    .unwrap();
}

#[test]
fn jobs_reach_a_cluster_behind_a_bastion_through_ssh_config() {
    let Some((sshd, port)) = sshd() else { return };
    let Some(bastion) = bastion::port(&sshd) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    ssh_config(home, &sshd, port, bastion);
    for transport in ["ssh2", "openssh"] {
        let file = home.join(format!("{transport}.toml"));
        std::fs::write(
            &file,
            format!(
                "[connector.cluster]\ntype = \"ssh\"\nhost = \"cluster\"\ntransport = \"{transport}\"\n\n\
                 [[launcher]]\nname = \"table\"\ntype = \"direct\"\nconnector = \"cluster\"\n\
                 host = {{ cores = 2, memory = \"1GiB\" }}\n\n\
                 [[launcher]]\nname = \"address\"\ntype = \"direct\"\nconnector = \"ssh://cluster\"\n\
                 tags = [\"address\"]\nhost = {{ cores = 2, memory = \"1GiB\" }}\n"
            ),
        )
        .unwrap();
        let file = file.display().to_string();
        let file = file.as_str();

        // `check --connect` says where the settings came from and what
        // happened at each hop.
        let out = launch_in(home, &["check", "--config", file, "--connect"], &[]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{transport}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("hop 1: "), "{transport}: {stdout}");
        assert!(stdout.contains(".ssh/config:"), "{transport}: {stdout}");
        assert!(!stdout.contains("failed"), "{transport}: {stdout}");

        for tag in [None, Some("address")] {
            let before = bastion::forwarded(&sshd);
            let jobs = home.join(format!("jobs-{transport}-{}", tag.unwrap_or("table")));
            let job = |name: &str| jobs.join(name).display().to_string();
            let mut options = vec!["--config", file];
            if let Some(tag) = tag {
                options.extend(["--tag", tag]);
            }
            // Attached: verbatim arguments, the exit code.
            let attached = job("attached");
            let out = run_one_core(
                home,
                &options,
                &attached,
                &[
                    "sh",
                    "-c",
                    "printf '%s|' \"$@\"; exit 3",
                    "sh",
                    "a b",
                    "it's $HOME",
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(3),
                "{transport} {tag:?}: {}",
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout), "a b|it's $HOME|", "{transport} {tag:?}");

            // Detached, then followed by new processes.
            let detached = job("detached");
            options.push("--detach");
            let out = run_one_core(
                home,
                &options,
                &detached,
                &["sh", "-c", "sleep 0.5; exit 4"],
            );
            assert!(
                out.status.success(),
                "{transport} {tag:?}: {}",
                text(&out.stderr)
            );
            let address = text(&out.stdout).trim().to_owned();
            assert!(address.starts_with("ssh://"), "{address}");
            let status = final_status(home, file, &address);
            assert_eq!(status["exit_code"], 4, "{transport} {tag:?}: {status}");
            assert!(
                bastion::forwarded(&sshd) > before,
                "{transport} {tag:?}: the bastion logged no forwarded connection"
            );
        }
    }
    // No OpenSSH master (nor its jump to the bastion, which names this
    // home's config file) outlives the `launch` that started it.
    let home = home.display().to_string();
    let ours = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&home))
            })
            .collect::<Vec<u32>>()
    };
    test_support::eventually("no ssh outlives launch", || ours().is_empty());
}
