//! Progress lines while a stack boots: which service, and how long it took.

use std::sync::Mutex;
use std::time::Instant;

/// Reports a boot's steps on stderr.
pub(crate) struct Progress {
    started: Instant,
    /// The step started last: what a boot that ran out of time was doing.
    current: Mutex<String>,
}

/// One step in progress; [`Step::done`] prints its duration.
pub(crate) struct Step {
    what: String,
    started: Instant,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Progress {
            started: Instant::now(),
            current: Mutex::new("preparing the boot".into()),
        }
    }

    pub(crate) fn start(&self, what: &str) -> Step {
        eprintln!("temporal-harness: starting {what}");
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = what.to_string();
        Step {
            what: what.to_string(),
            started: Instant::now(),
        }
    }

    /// The step started last.
    pub(crate) fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn total(&self, what: &str) {
        eprintln!(
            "temporal-harness: stack ready in {:.2}s ({what})",
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl Step {
    pub(crate) fn done(self) {
        eprintln!(
            "temporal-harness: {} ready in {:.2}s",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
    }
}
