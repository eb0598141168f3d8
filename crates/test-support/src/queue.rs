//! A launcher that only answers "when would the job start here"
//! ([`Queue`]): a fixed answer after a delay, each question counted; for
//! tests and benches of the earliest-start choice.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use core_types::job::{ConnectorError, Job, JobError, JobHandle, Launcher, Start, StartEstimate};

/// What a [`Queue`] answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This start, for this reason.
    Start(Start, &'static str),
    /// Asking fails with a connector error saying this.
    Fails(&'static str),
    /// It cannot tell (as a launcher without a probe).
    CannotTell,
}

/// A launcher that answers [`Launcher::expected_start`] with its reply
/// after its delay, counting the questions; it submits nothing (a
/// submission is refused).
#[derive(Debug)]
pub struct Queue {
    /// Its priority.
    pub priority: f64,
    /// Its answer.
    pub reply: Reply,
    /// How long it takes to answer.
    pub delay: Duration,
    /// How many times it was asked.
    pub asked: Arc<AtomicUsize>,
}

impl Queue {
    /// A queue answering `reply` at once, with priority `priority`.
    pub fn new(priority: f64, reply: Reply) -> Self {
        Queue {
            priority,
            reply,
            delay: Duration::ZERO,
            asked: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Answers after `delay`.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How many times it was asked.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

impl Launcher for Queue {
    fn kind(&self) -> &'static str {
        "queue"
    }
    fn describe(&self) -> String {
        format!("a test queue answering {:?}", self.reply)
    }
    fn priority(&self) -> f64 {
        self.priority
    }
    fn submit(&self, job: Job) -> Result<Box<dyn JobHandle>, JobError> {
        let _ = job;
        Err(JobError::Connector(ConnectorError::Invalid(
            "a test queue runs nothing".into(),
        )))
    }
    fn recover(&self, dir: &Path) -> Result<Box<dyn JobHandle>, JobError> {
        let _ = dir;
        Err(JobError::Connector(ConnectorError::Invalid(
            "a test queue runs nothing".into(),
        )))
    }
    fn expected_start(&self, job: &Job) -> Option<Result<StartEstimate, JobError>> {
        let _ = job;
        self.asked.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        match &self.reply {
            Reply::Start(start, why) => Some(Ok(StartEstimate::new(*start, *why))),
            Reply::Fails(why) => Some(Err(JobError::Launcher {
                launcher: "queue",
                source: Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    *why,
                )),
            })),
            Reply::CannotTell => None,
        }
    }
}
