//! Ending a process's runs when the process exits. A test binary gives a library no "end of
//! run" hook: libtest's `main` returns (or calls `exit`) once the last test is done, and no
//! static is dropped. So the harness registers an `atexit` handler, which C's `exit` runs
//! after `main`. By then `main`'s thread-locals are destroyed (glibc destroys them first),
//! and tokio, tonic and std's channels all use thread-locals; so the work runs on a thread
//! started while the process was whole, idle until the handler wakes it, and the handler
//! only flips a flag and waits on a condition variable (a futex, no thread-local).
//!
//! A process killed by a signal runs no handler: the run's other processes end it, or the
//! next process that finds its record, or (record lost) a later run's sweep after the TTL.

use std::sync::{Condvar, Mutex, Once};
use std::time::Duration;

/// How long the exit waits for the runs to end before the process goes anyway (a deployment
/// that stopped answering must not hang a test command's end).
const EXIT_BUDGET: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Exiting,
    Done,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Running);
static CHANGED: Condvar = Condvar::new();

/// Makes this process end the runs it joined when it exits (once per process).
pub(super) fn end_runs_at_exit() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let started = std::thread::Builder::new()
            .name("temporal-harness-run-end".into())
            .spawn(ender);
        if started.is_ok() {
            // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds.
            unsafe { libc::atexit(at_exit) };
        }
    });
}

/// The thread that ends the runs: waits for the exit, ends them, says it is done.
fn ender() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let mut phase = lock();
    while *phase != Phase::Exiting {
        phase = CHANGED.wait(phase).unwrap_or_else(|p| p.into_inner());
    }
    drop(phase);
    if let Ok(runtime) = runtime {
        runtime.block_on(super::run::leave_all());
    }
    *lock() = Phase::Done;
    CHANGED.notify_all();
}

extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let mut phase = lock();
        *phase = Phase::Exiting;
        CHANGED.notify_all();
        let (phase, _) = CHANGED
            .wait_timeout_while(phase, EXIT_BUDGET, |p| *p != Phase::Done)
            .unwrap_or_else(|p| p.into_inner());
        drop(phase);
    });
}

fn lock() -> std::sync::MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(|p| p.into_inner())
}
