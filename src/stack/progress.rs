//! Progress lines while a stack boots: which service, and how long it took.

use std::time::Instant;

/// Reports a boot's steps on stderr.
pub(crate) struct Progress {
    started: Instant,
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
        }
    }

    pub(crate) fn start(&self, what: &str) -> Step {
        eprintln!("temporal-harness: starting {what}");
        Step {
            what: what.to_string(),
            started: Instant::now(),
        }
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
