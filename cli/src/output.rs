//! Standard output and error that never panic (`outln!` panics when a write fails: a
//! closed pipe such as `| head -1`, a full disk such as `> /dev/full`).
//!
//! A closed stdout pipe means the reader has what it wanted: later output is dropped and the
//! command goes on to its normal end (cleanup included) and exit code, as `grep` and `ripgrep`
//! do. Any other failed stdout write is remembered and turns the exit code into 2 with a
//! message ([`finish`]): the output the user asked for is not there. A failed write to stderr
//! has nowhere to be reported and is dropped.

use std::io::{self, Write};
use std::sync::Mutex;

/// The first stdout write error that was not a closed pipe.
static STDOUT_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);
/// Set once stdout's reader has gone: nothing more is written there.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `text` to stdout and flushes it (so that a full disk is seen here, not lost at exit).
pub(crate) fn stdout(text: &str) {
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            STDOUT_ERROR
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    }
}

/// Writes `text` to stderr; a failure is dropped (there is no other place to report it).
pub(crate) fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// The command's exit code, or 2 when its output could not be written.
pub(crate) fn finish(code: i32) -> i32 {
    match STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        Some(e) => {
            stderr(&format!(
                "error: cannot write to standard output: {e}. Fix: write the output where \
                 there is room (check the disk or the file it is redirected to)\n"
            ));
            temporal_harness::exit_codes::CONFIG_ERROR
        }
        None => code,
    }
}

/// `outln!` to stdout through [`stdout`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `out!` to stdout through [`stdout`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(&format!($($arg)*)) };
}

/// `errln!` through [`stderr`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr(&format!("{}\n", format_args!($($arg)*))) };
}

/// `err!` through [`stderr`].
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stderr(&format!($($arg)*)) };
}
