//! The bookkeeping of activity mocks, without types or a server: which expectation serves a
//! call, and what was expected and seen at the end. Unit-tested here; the typed handle and
//! the worker's interceptor are in `mod.rs` and `interceptor.rs`.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_sdk::interceptors::ExecuteActivityInput;

/// A value as the interceptor holds it: an activity's typed input, behind `Any`.
pub(super) type AnyValue = dyn Any + Send + Sync;
/// What answers a call the mock serves (its result, or its failure), from the typed input.
pub(super) type Respond = Arc<dyn Fn(&AnyValue) -> Answer + Send + Sync>;
/// Copies a call's typed input out of the SDK's interceptor input (only the typed `mock()`
/// knows the type), to record the call and answer it.
pub(super) type CopyInput = fn(&ExecuteActivityInput) -> Option<Arc<AnyValue>>;

/// What a served call does.
pub(super) enum Answer {
    /// Completes with this output (an `ActivityExecutionValue` of the activity's type).
    Output(Box<dyn temporalio_sdk::interceptors::ActivityExecutionValue>),
    /// Fails with this error.
    Fail(temporalio_sdk::activities::ActivityError),
    /// Never answers: the attempt ends by its timeout (or the worker's shutdown).
    Stall,
}

/// How many calls an expectation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Times {
    /// Every call from here on, and at least one.
    AtLeastOnce,
    /// Exactly this many (0: the activity must not be called).
    Exactly(u32),
}

/// One `runner.mock(..)`: how many calls it serves, and how.
pub(super) struct Expectation {
    pub(super) times: Times,
    pub(super) served: u32,
    /// `None`: the real implementation answers (a spy that counts and records).
    pub(super) respond: Option<Respond>,
    /// How it answers, for reports (`returns`, `fails(card declined)`, ...).
    pub(super) describe: String,
    pub(super) delay: Duration,
}

impl Expectation {
    fn new() -> Self {
        Expectation {
            times: Times::AtLeastOnce,
            served: 0,
            respond: None,
            describe: "runs the real implementation".into(),
            delay: Duration::ZERO,
        }
    }

    fn has_room(&self) -> bool {
        match self.times {
            Times::AtLeastOnce => true,
            Times::Exactly(n) => self.served < n,
        }
    }

    fn expected(&self) -> String {
        match self.times {
            Times::AtLeastOnce => "at least 1 call".into(),
            Times::Exactly(1) => "exactly 1 call".into(),
            Times::Exactly(n) => format!("exactly {n} calls"),
        }
    }

    fn met(&self) -> bool {
        match self.times {
            Times::AtLeastOnce => self.served >= 1,
            Times::Exactly(n) => self.served == n,
        }
    }
}

/// A call a mocked activity received.
pub(super) struct Call {
    pub(super) input: Arc<AnyValue>,
    pub(super) attempt: u32,
    pub(super) workflow_id: Option<String>,
    /// Which expectation served it (`None`: none had room).
    pub(super) served_by: Option<usize>,
}

/// Everything about one mocked activity type.
pub(super) struct Activity {
    pub(super) copy_input: CopyInput,
    pub(super) expectations: Vec<Expectation>,
    pub(super) calls: Vec<Call>,
}

/// How the interceptor handles one call of a mocked activity.
pub(super) enum Serve {
    /// The expectation answers (after its delay).
    Mock(Respond, Duration),
    /// The expectation lets the real implementation answer.
    Real,
    /// No expectation has room: the call fails, and the test with it.
    Unexpected(String),
}

/// The mocks of one test: one [`Activity`] per mocked activity type, and the order of calls.
pub(crate) struct MockTable {
    activities: Mutex<BTreeMap<String, Activity>>,
    order: Mutex<Vec<String>>,
    /// Set once the test body is over: stalled calls end then.
    released: tokio::sync::watch::Sender<bool>,
}

impl Default for MockTable {
    fn default() -> Self {
        MockTable {
            activities: Mutex::default(),
            order: Mutex::default(),
            released: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl MockTable {
    /// Ends every stalled call (see [`MockTable::stalled`]).
    pub(crate) fn release(&self) {
        self.released.send_replace(true);
    }

    /// Resolves when the test body is over or at `deadline` (the attempt's own, after which
    /// the server has timed it out and ignores its answer), whichever comes first: a stalled
    /// call must not hold the worker's shutdown for ever.
    pub(super) async fn stalled(&self, deadline: Option<std::time::SystemTime>) {
        let mut released = self.released.subscribe();
        let until_deadline = async {
            match deadline.and_then(|d| d.duration_since(std::time::SystemTime::now()).ok()) {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = released.wait_for(|r| *r) => {}
            () = until_deadline => {}
        }
    }

    /// Adds an expectation for `name` (first: every call, the real implementation); returns
    /// its index.
    pub(super) fn expect(&self, name: &str, copy_input: CopyInput) -> usize {
        let mut activities = self.activities.lock().unwrap();
        let activity = activities
            .entry(name.to_string())
            .or_insert_with(|| Activity {
                copy_input,
                expectations: Vec::new(),
                calls: Vec::new(),
            });
        activity.expectations.push(Expectation::new());
        activity.expectations.len() - 1
    }

    /// Changes expectation `index` of `name`.
    pub(super) fn update(&self, name: &str, index: usize, change: impl FnOnce(&mut Expectation)) {
        let mut activities = self.activities.lock().unwrap();
        if let Some(e) = activities
            .get_mut(name)
            .and_then(|a| a.expectations.get_mut(index))
        {
            change(e)
        }
    }

    /// How to copy the input of `name`'s calls, when it is mocked at all (else the real
    /// implementation runs, unrecorded).
    pub(super) fn copier(&self, name: &str) -> Option<CopyInput> {
        self.activities
            .lock()
            .unwrap()
            .get(name)
            .map(|a| a.copy_input)
    }

    /// Records a call of `name` and decides who answers it: the first expectation, in the
    /// order they were set up, that still has room.
    pub(super) fn serve(
        &self,
        name: &str,
        input: Arc<AnyValue>,
        attempt: u32,
        workflow_id: Option<String>,
    ) -> Serve {
        let mut activities = self.activities.lock().unwrap();
        let Some(activity) = activities.get_mut(name) else {
            return Serve::Real;
        };
        self.order.lock().unwrap().push(name.to_string());
        let slot = activity.expectations.iter().position(Expectation::has_room);
        activity.calls.push(Call {
            input,
            attempt,
            workflow_id,
            served_by: slot,
        });
        let Some(slot) = slot else {
            let call = activity.calls.len();
            return Serve::Unexpected(format!(
                "call {call} of the mocked activity {name} (attempt {attempt}) was not \
                 expected: {}",
                describe_all(&activity.expectations)
            ));
        };
        let expectation = &mut activity.expectations[slot];
        expectation.served += 1;
        match &expectation.respond {
            Some(respond) => Serve::Mock(respond.clone(), expectation.delay),
            None => Serve::Real,
        }
    }

    /// The calls `name` received, in order, as `(input, attempt, workflow ID)` with the input
    /// copied out by `read`.
    pub(super) fn calls<T>(
        &self,
        name: &str,
        read: impl Fn(&AnyValue) -> T,
    ) -> Vec<(T, u32, Option<String>)> {
        let activities = self.activities.lock().unwrap();
        activities
            .get(name)
            .map(|a| {
                a.calls
                    .iter()
                    .map(|c| (read(&*c.input), c.attempt, c.workflow_id.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Mocked activities in the order their calls arrived (one entry per call).
    pub(crate) fn order(&self) -> Vec<String> {
        self.order.lock().unwrap().clone()
    }

    /// At the end of the test: every expectation met, and no call that none expected. The
    /// report, when there is one, lists each activity whose mocks were not met: what each
    /// expected and what it saw.
    pub(crate) fn unmet_report(&self) -> Option<String> {
        let activities = self.activities.lock().unwrap();
        let mut report = String::new();
        for (name, activity) in activities.iter() {
            let unexpected = activity
                .calls
                .iter()
                .filter(|c| c.served_by.is_none())
                .count();
            let unmet = activity.expectations.iter().any(|e| !e.met());
            if !unmet && unexpected == 0 {
                continue;
            }
            let _ = writeln!(
                report,
                "  {name}: {} call(s) seen{}",
                activity.calls.len(),
                match unexpected {
                    0 => String::new(),
                    n => format!(", {n} of them unexpected"),
                }
            );
            for (i, e) in activity.expectations.iter().enumerate() {
                let mark = if e.met() { "ok" } else { "NOT MET" };
                let _ = writeln!(
                    report,
                    "    mock {} ({}): expected {}, served {} [{mark}]",
                    i + 1,
                    e.describe,
                    e.expected(),
                    e.served
                );
            }
        }
        Some(report).filter(|r| !r.is_empty())
    }
}

fn describe_all(expectations: &[Expectation]) -> String {
    let each: Vec<String> = expectations
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "mock {} ({}) expected {} and served {}",
                i + 1,
                e.describe,
                e.expected(),
                e.served
            )
        })
        .collect();
    each.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_copy(_: &ExecuteActivityInput) -> Option<Arc<AnyValue>> {
        None
    }

    fn served_by(table: &MockTable, name: &str, input: u32, attempt: u32) -> &'static str {
        match table.serve(name, Arc::new(input), attempt, None) {
            Serve::Mock(..) => "mock",
            Serve::Real => "real",
            Serve::Unexpected(_) => "unexpected",
        }
    }

    fn answering(table: &MockTable, name: &str, times: Times) -> usize {
        let i = table.expect(name, no_copy);
        table.update(name, i, |e| {
            e.times = times;
            e.respond = Some(Arc::new(|_| Answer::Stall));
            e.describe = "stalls".into();
        });
        i
    }

    #[test]
    fn expectations_serve_in_order_until_full_then_the_next() {
        let table = MockTable::default();
        answering(&table, "charge", Times::Exactly(1));
        table.expect("charge", no_copy); // then: the real implementation, at least once
        let served: Vec<_> = (1..=3).map(|a| served_by(&table, "charge", 7, a)).collect();
        assert_eq!(served, ["mock", "real", "real"]);
        assert_eq!(served_by(&table, "ship", 1, 1), "real", "not mocked");
        assert_eq!(table.order(), ["charge", "charge", "charge"]);
        let calls = table.calls("charge", |v| *v.downcast_ref::<u32>().unwrap());
        assert_eq!(calls, [(7, 1, None), (7, 2, None), (7, 3, None)]);
        assert_eq!(table.unmet_report(), None);
    }

    #[test]
    fn unmet_and_unexpected_calls_are_reported_with_what_was_expected() {
        let table = MockTable::default();
        answering(&table, "charge", Times::Exactly(2));
        answering(&table, "refund", Times::Exactly(0));
        answering(&table, "ship", Times::AtLeastOnce);
        assert_eq!(served_by(&table, "charge", 1, 1), "mock");
        let Serve::Unexpected(why) = table.serve("refund", Arc::new(1u32), 1, None) else {
            panic!("a never() mock served a call");
        };
        assert!(
            why.contains("call 1 of the mocked activity refund"),
            "{why}"
        );
        assert!(why.contains("expected exactly 0 calls"), "{why}");
        let report = table.unmet_report().expect("a report of the unmet mocks");
        assert!(report.contains("charge: 1 call(s) seen"), "{report}");
        assert!(
            report.contains("mock 1 (stalls): expected exactly 2 calls, served 1 [NOT MET]"),
            "{report}"
        );
        assert!(
            report.contains("refund: 1 call(s) seen, 1 of them unexpected"),
            "{report}"
        );
        assert!(
            report.contains("ship: 0 call(s) seen") && report.contains("at least 1 call"),
            "{report}"
        );
    }
}
