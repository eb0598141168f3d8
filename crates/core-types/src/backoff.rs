//! Pauses that grow: the one backoff rule of the workspace (waiting on a
//! process's end, a server coming back, a busy Slurm controller).

use std::time::Duration;

/// Pauses that double from `first` up to `max`, for waiting on something
/// that takes a while to change (a process's end, a server coming back).
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    pause: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            pause: first,
        }
    }

    /// The pause to take now.
    pub fn pause(&self) -> Duration {
        self.pause
    }

    /// Whether the pause has reached its longest.
    pub fn at_max(&self) -> bool {
        self.pause >= self.max
    }

    /// The next pause is twice as long (at most `max`).
    pub fn grow(&mut self) {
        self.pause = (self.pause * 2).min(self.max);
    }

    /// Back to the first pause.
    pub fn reset(&mut self) {
        self.pause = self.first;
    }

    /// Sleeps for the pause, then grows it.
    pub fn sleep(&mut self) {
        std::thread::sleep(self.pause);
        self.grow();
    }
}

impl Backoff {
    /// The pause after `n` grows (`n = 0`: the first), without stepping.
    pub fn nth(first: Duration, max: Duration, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
        first.checked_mul(factor).unwrap_or(max).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(5), ms(500));
        let mut seen = vec![b.pause()];
        while !b.at_max() {
            b.grow();
            seen.push(b.pause());
        }
        assert_eq!(seen, [5, 10, 20, 40, 80, 160, 320, 500].map(ms));
        b.grow();
        assert_eq!(b.pause(), ms(500));
        b.reset();
        assert_eq!(b.pause(), ms(5));
    }

    #[test]
    fn nth_is_the_pause_after_n_grows() {
        let ms = Duration::from_millis;
        assert_eq!(Backoff::nth(ms(5), ms(500), 0), ms(5));
        assert_eq!(Backoff::nth(ms(5), ms(500), 3), ms(40));
        assert_eq!(Backoff::nth(ms(5), ms(500), 40), ms(500));
        assert_eq!(Backoff::nth(Duration::MAX, ms(500), 2), ms(500));
    }
}
