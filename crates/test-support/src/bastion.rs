//! The test sshd's bastion (`cargo xtask sshd up` starts it beside the
//! target, at `LogLevel DEBUG1`, with its port in `bastion_port` and its
//! log in `bastion.log` of the test sshd's directory).

use std::path::Path;

/// The bastion's port, when the test sshd in `sshd_dir` has one (else a
/// note that the test is skipped).
pub fn port(sshd_dir: &Path) -> Option<u16> {
    let port = std::fs::read_to_string(sshd_dir.join("bastion_port"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    if port.is_none() {
        eprintln!("note: skipped, the test sshd has no bastion (cargo xtask sshd up starts one)");
    }
    port
}

/// How many forwarded connections (`direct-tcpip`) the bastion's log names.
pub fn forwarded(sshd_dir: &Path) -> usize {
    std::fs::read_to_string(sshd_dir.join("bastion.log"))
        .unwrap_or_default()
        .matches("direct-tcpip")
        .count()
}
