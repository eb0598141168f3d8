//! Two small rules used all over the crate: locks whose poisoning is
//! ignored, and pauses that grow.

use std::sync::{LockResult, PoisonError};
use std::time::Duration;

/// What a lock (or a wait on a condition variable) gives, poisoned or not:
/// a thread that panicked while holding it leaves state that is still
/// consistent (every update of it is a single assignment or push).
pub(crate) fn unpoisoned<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

/// Pauses that double from `first` up to `max`, for waiting on something
/// that takes a while to change (a process's end, a server coming back).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    pause: Duration,
}

impl Backoff {
    pub(crate) const fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            pause: first,
        }
    }

    /// The pause to take now.
    pub(crate) fn pause(&self) -> Duration {
        self.pause
    }

    /// Whether the pause has reached its longest.
    pub(crate) fn at_max(&self) -> bool {
        self.pause >= self.max
    }

    /// The next pause is twice as long (at most `max`).
    pub(crate) fn grow(&mut self) {
        self.pause = (self.pause * 2).min(self.max);
    }

    /// Back to the first pause.
    pub(crate) fn reset(&mut self) {
        self.pause = self.first;
    }

    /// Sleeps for the pause, then grows it.
    pub(crate) fn sleep(&mut self) {
        std::thread::sleep(self.pause);
        self.grow();
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
    fn poison_is_ignored() {
        let m = std::sync::Arc::new(std::sync::Mutex::new(1));
        let m2 = std::sync::Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _guard = m2.lock().unwrap();
            panic!("poisons the lock");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*unpoisoned(m.lock()), 1);
    }
}
