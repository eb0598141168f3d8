//! Two small rules used all over the crate: locks whose poisoning is
//! ignored, and pauses that grow.

use std::sync::{LockResult, PoisonError};

/// What a lock (or a wait on a condition variable) gives, poisoned or not:
/// a thread that panicked while holding it leaves state that is still
/// consistent (every update of it is a single assignment or push).
pub(crate) fn unpoisoned<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

pub(crate) use core_types::backoff::Backoff;

#[cfg(test)]
mod tests {
    use super::*;

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
