//! Ports for the daemons tests start (slurmctld, slurmd, sshd).
//!
//! A port found by binding port 0 comes from the kernel's ephemeral range,
//! the one it also gives outgoing connections: between the check and the
//! daemon's own bind, any connection of the machine may take it ("Unable
//! to bind listen port: Address already in use"). These ports are outside
//! that range, distinct within the process (a counter), apart across
//! processes (a start taken from the pid), and free when handed out (a
//! bind).
//!
//! A crate of its own, below `test-support`, because `xtask` starts the
//! shared test daemons (`cargo xtask slurm`, `cargo xtask sshd`) and may
//! not depend on the dev-only `test-support`.
//!
//! ```
//! let (low, high) = test_ports::ephemeral_range();
//! let (a, b) = (test_ports::free_port(), test_ports::free_port());
//! assert_ne!(a, b);
//! assert!(a < low || a > high);
//! ```

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: above the well-known ones and the usual
/// services.
const FIRST: u16 = 10_000;
/// How far apart the starts of two processes of consecutive pids are.
const PID_STRIDE: u32 = 61;

/// The kernel's ephemeral port range, `(low, high)` inclusive
/// (`/proc/sys/net/ipv4/ip_local_port_range`; Linux's default when it
/// cannot be read).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| parse_range(&text))
        .unwrap_or((32_768, 60_999))
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut words = text.split_whitespace().map(str::parse::<u16>);
    let (low, high) = (words.next()?.ok()?, words.next()?.ok()?);
    (low <= high).then_some((low, high))
}

/// The ports outside the ephemeral range `(low, high)` to hand out: the
/// larger of the stretch below it (from [`FIRST`]) and the one above it.
fn pool((low, high): (u16, u16)) -> (u16, u16) {
    let below = (FIRST, low.saturating_sub(1));
    let above = (high.saturating_add(1).max(FIRST), u16::MAX);
    let size = |(a, b): (u16, u16)| if b >= a { u32::from(b - a) + 1 } else { 0 };
    if size(below) >= size(above) {
        below
    } else {
        above
    }
}

/// The `n`-th port of `pool` for the process `pid`.
fn nth((first, last): (u16, u16), pid: u32, n: u32) -> u16 {
    let span = u32::from(last - first) + 1;
    let offset = (pid.wrapping_mul(PID_STRIDE).wrapping_add(n)) % span;
    first + u16::try_from(offset).expect("an offset within the pool")
}

/// A port no one listens on now, outside the ephemeral range, never handed
/// out twice by this process.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pool = pool(ephemeral_range());
    let span = u32::from(pool.1 - pool.0) + 1;
    for _ in 0..span {
        let port = nth(
            pool,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        );
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {}..={}", pool.0, pool.1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_stay_out_of_the_ephemeral_range() {
        let (low, high) = ephemeral_range();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let port = free_port();
            assert!(port < low || port > high, "{port} in {low}..={high}");
            assert!(port >= FIRST, "{port}");
            assert!(seen.insert(port), "{port} handed out twice");
        }
    }

    #[test]
    fn pools_and_starts() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32_768, 60_999)));
        assert_eq!(parse_range("x"), None);
        assert_eq!(parse_range("9 3"), None);
        assert_eq!(pool((32_768, 60_999)), (FIRST, 32_767));
        // Little room below: above.
        assert_eq!(pool((10_500, 40_000)), (40_001, u16::MAX));
        let p = pool((32_768, 60_999));
        // Two processes start apart; one process never repeats a port
        // before it went round the pool.
        assert_ne!(nth(p, 1000, 0), nth(p, 1001, 0));
        assert_eq!(nth(p, 1000, 1), nth(p, 1000, 0) + 1);
        let span = u32::from(p.1 - p.0) + 1;
        assert_eq!(nth(p, 7, span), nth(p, 7, 0));
        assert!(
            (0..span)
                .map(|n| nth(p, 7, n))
                .all(|q| q >= p.0 && q <= p.1)
        );
    }
}
