//! The bookkeeping of mocks, without types or a server: which expectation serves a call, and
//! what was expected and seen at the end. One [`MockTable`] per kind of mocked thing
//! (activities, child workflows), generic over the SDK's interceptor input `I` and the answer
//! `A` of that kind. Unit-tested here; the typed handles and the worker's interceptors are in
//! `activity.rs` and `workflow.rs`.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// A value as the interceptor holds it: a typed input, behind `Any`.
pub(super) type AnyValue = dyn Any + Send + Sync;
/// What answers a call the mock serves, from the typed input.
pub(super) type Respond<A> = Arc<dyn Fn(&AnyValue) -> A + Send + Sync>;
/// Copies a call's typed input out of the SDK's interceptor input `I` (only the typed
/// `mock()` knows the type), to record the call and answer it.
pub(super) type CopyInput<I> = fn(&I) -> Option<Arc<AnyValue>>;

/// How many calls an expectation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Times {
    /// Every call from here on, and at least one.
    AtLeastOnce,
    /// Exactly this many (0: it must not be called).
    Exactly(u32),
}

/// One `runner.mock(..)`: how many calls it serves, and how.
pub(super) struct Expectation<A> {
    pub(super) times: Times,
    pub(super) served: u32,
    /// `None`: the real implementation answers (a spy that counts and records).
    pub(super) respond: Option<Respond<A>>,
    /// How it answers, for reports (`returns`, `fails(card declined)`, ...).
    pub(super) describe: String,
    pub(super) delay: Duration,
    /// Heartbeat details recorded, in order, before the answer (activity mocks).
    pub(super) heartbeats: Vec<Payload>,
}

impl<A> Expectation<A> {
    fn new() -> Self {
        Expectation {
            times: Times::AtLeastOnce,
            served: 0,
            respond: None,
            describe: "runs the real implementation".into(),
            delay: Duration::ZERO,
            heartbeats: Vec::new(),
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

/// A call a mocked activity or workflow received.
pub(super) struct Call {
    pub(super) input: Arc<AnyValue>,
    pub(super) attempt: u32,
    pub(super) workflow_id: Option<String>,
    /// Which expectation served it (`None`: none had room).
    pub(super) served_by: Option<usize>,
}

/// Everything about one mocked activity or workflow type.
struct Mocked<I, A> {
    copy_input: CopyInput<I>,
    expectations: Vec<Expectation<A>>,
    calls: Vec<Call>,
    /// The expectation that served each run (workflows only): a run the worker executes again
    /// (after its cache evicted it, or in the end-of-test replay) gets the same answer and is
    /// not counted twice. `None`: no expectation had room.
    by_run: HashMap<String, Option<usize>>,
}

/// How a mock answers a call it serves.
pub(super) struct Served<A> {
    pub(super) respond: Respond<A>,
    /// Waited (in real time for an activity, workflow time for a workflow) before answering.
    pub(super) delay: Duration,
    pub(super) heartbeats: Vec<Payload>,
}

/// How the interceptor handles one call.
pub(super) enum Serve<A> {
    /// The expectation answers.
    Mock(Served<A>),
    /// The expectation lets the real implementation answer.
    Real,
    /// No expectation has room: the call fails, and the test with it.
    Unexpected(String),
}

/// The mocks of one kind in one test, by type name. `order` (shared by every kind's table of
/// the test) is the order calls arrived in, across kinds.
pub(crate) struct MockTable<I, A> {
    /// "activity" or "workflow", for messages.
    kind: &'static str,
    mocked: Mutex<BTreeMap<String, Mocked<I, A>>>,
    order: Arc<Mutex<Vec<String>>>,
}

impl<I, A> MockTable<I, A> {
    pub(super) fn new(kind: &'static str, order: Arc<Mutex<Vec<String>>>) -> Self {
        MockTable {
            kind,
            mocked: Mutex::default(),
            order,
        }
    }

    /// Adds an expectation for `name` (first: every call, the real implementation); returns
    /// its index.
    pub(super) fn expect(&self, name: &str, copy_input: CopyInput<I>) -> usize {
        let mut mocked = self.mocked.lock().unwrap();
        let entry = mocked.entry(name.to_string()).or_insert_with(|| Mocked {
            copy_input,
            expectations: Vec::new(),
            calls: Vec::new(),
            by_run: HashMap::new(),
        });
        entry.expectations.push(Expectation::new());
        entry.expectations.len() - 1
    }

    /// Changes expectation `index` of `name`.
    pub(super) fn update(
        &self,
        name: &str,
        index: usize,
        change: impl FnOnce(&mut Expectation<A>),
    ) {
        let mut mocked = self.mocked.lock().unwrap();
        if let Some(e) = mocked
            .get_mut(name)
            .and_then(|m| m.expectations.get_mut(index))
        {
            change(e)
        }
    }

    /// How to copy the input of `name`'s calls, when it is mocked at all (else the real
    /// implementation runs, unrecorded).
    pub(super) fn copier(&self, name: &str) -> Option<CopyInput<I>> {
        self.mocked.lock().unwrap().get(name).map(|m| m.copy_input)
    }

    /// Records a call of `name` and decides who answers it: the first expectation, in the
    /// order they were set up, that still has room. `run`: the workflow run this call is
    /// (workflow mocks); a run seen before gets the answer it got then, unrecorded.
    pub(super) fn serve(
        &self,
        name: &str,
        input: Arc<AnyValue>,
        attempt: u32,
        workflow_id: Option<String>,
        run: Option<&str>,
    ) -> Serve<A> {
        let mut mocked = self.mocked.lock().unwrap();
        let Some(entry) = mocked.get_mut(name) else {
            return Serve::Real;
        };
        let kind = self.kind;
        let seen = run.and_then(|r| entry.by_run.get(r).copied());
        let slot = match seen {
            Some(slot) => slot,
            None => {
                let slot = entry.expectations.iter().position(Expectation::has_room);
                self.order.lock().unwrap().push(name.to_string());
                entry.calls.push(Call {
                    input,
                    attempt,
                    workflow_id,
                    served_by: slot,
                });
                if let Some(run) = run {
                    entry.by_run.insert(run.to_string(), slot);
                }
                if let Some(slot) = slot {
                    entry.expectations[slot].served += 1;
                }
                slot
            }
        };
        let Some(slot) = slot else {
            let call = entry.calls.len();
            return Serve::Unexpected(format!(
                "call {call} of the mocked {kind} {name} (attempt {attempt}) was not \
                 expected: {}",
                describe_all(&entry.expectations)
            ));
        };
        let expectation = &entry.expectations[slot];
        match &expectation.respond {
            Some(respond) => Serve::Mock(Served {
                respond: respond.clone(),
                delay: expectation.delay,
                heartbeats: expectation.heartbeats.clone(),
            }),
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
        let mocked = self.mocked.lock().unwrap();
        mocked
            .get(name)
            .map(|m| {
                m.calls
                    .iter()
                    .map(|c| (read(&*c.input), c.attempt, c.workflow_id.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// At the end of the test: every expectation met, and no call that none expected. Writes
    /// to `report` each mocked type whose mocks were not met: what each expected and saw.
    pub(super) fn report_unmet(&self, report: &mut String) {
        let mocked = self.mocked.lock().unwrap();
        for (name, entry) in mocked.iter() {
            let unexpected = entry.calls.iter().filter(|c| c.served_by.is_none()).count();
            let unmet = entry.expectations.iter().any(|e| !e.met());
            if !unmet && unexpected == 0 {
                continue;
            }
            let _ = writeln!(
                report,
                "  {} {name}: {} call(s) seen{}",
                self.kind,
                entry.calls.len(),
                match unexpected {
                    0 => String::new(),
                    n => format!(", {n} of them unexpected"),
                }
            );
            for (i, e) in entry.expectations.iter().enumerate() {
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
    }
}

fn describe_all<A>(expectations: &[Expectation<A>]) -> String {
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

    /// A table of a made-up kind: inputs are `()`, answers are `&'static str`.
    type Table = MockTable<(), &'static str>;

    fn table() -> Table {
        MockTable::new("activity", Arc::default())
    }

    fn no_copy(_: &()) -> Option<Arc<AnyValue>> {
        None
    }

    fn served_by(table: &Table, name: &str, input: u32, attempt: u32) -> &'static str {
        match table.serve(name, Arc::new(input), attempt, None, None) {
            Serve::Mock(..) => "mock",
            Serve::Real => "real",
            Serve::Unexpected(_) => "unexpected",
        }
    }

    fn answering(table: &Table, name: &str, times: Times) -> usize {
        let i = table.expect(name, no_copy);
        table.update(name, i, |e| {
            e.times = times;
            e.respond = Some(Arc::new(|_| "answer"));
            e.describe = "stalls".into();
        });
        i
    }

    fn unmet(table: &Table) -> Option<String> {
        let mut report = String::new();
        table.report_unmet(&mut report);
        Some(report).filter(|r| !r.is_empty())
    }

    #[test]
    fn expectations_serve_in_order_until_full_then_the_next() {
        let table = table();
        answering(&table, "charge", Times::Exactly(1));
        table.expect("charge", no_copy); // then: the real implementation, at least once
        let served: Vec<_> = (1..=3).map(|a| served_by(&table, "charge", 7, a)).collect();
        assert_eq!(served, ["mock", "real", "real"]);
        assert_eq!(served_by(&table, "ship", 1, 1), "real", "not mocked");
        assert_eq!(*table.order.lock().unwrap(), ["charge", "charge", "charge"]);
        let calls = table.calls("charge", |v| *v.downcast_ref::<u32>().unwrap());
        assert_eq!(calls, [(7, 1, None), (7, 2, None), (7, 3, None)]);
        assert_eq!(unmet(&table), None);
    }

    #[test]
    fn a_run_executed_again_gets_the_same_answer_and_counts_once() {
        let table = table();
        answering(&table, "Child", Times::Exactly(1));
        let serve = |run| match table.serve("Child", Arc::new(1u32), 1, None, Some(run)) {
            Serve::Mock(served) => (served.respond)(&()),
            Serve::Real => "real",
            Serve::Unexpected(_) => "unexpected",
        };
        // run-a again (a cache eviction, or the replay) is still served by the mock; run-b
        // is a second call, which the `once` mock has no room for.
        assert_eq!(
            [serve("run-a"), serve("run-a"), serve("run-b")],
            ["answer", "answer", "unexpected"]
        );
        assert_eq!(serve("run-b"), "unexpected", "and stays so");
        assert_eq!(table.calls("Child", |_| ()).len(), 2);
        let report = unmet(&table).expect("run-b was unexpected");
        assert!(
            report.contains("2 call(s) seen, 1 of them unexpected"),
            "{report}"
        );
    }

    #[test]
    fn unmet_and_unexpected_calls_are_reported_with_what_was_expected() {
        let table = table();
        answering(&table, "charge", Times::Exactly(2));
        answering(&table, "refund", Times::Exactly(0));
        answering(&table, "ship", Times::AtLeastOnce);
        assert_eq!(served_by(&table, "charge", 1, 1), "mock");
        let Serve::Unexpected(why) = table.serve("refund", Arc::new(1u32), 1, None, None) else {
            panic!("a never() mock served a call");
        };
        assert!(
            why.contains("call 1 of the mocked activity refund"),
            "{why}"
        );
        assert!(why.contains("expected exactly 0 calls"), "{why}");
        let report = unmet(&table).expect("a report of the unmet mocks");
        assert!(
            report.contains("activity charge: 1 call(s) seen"),
            "{report}"
        );
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
