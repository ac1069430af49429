//! Activities tested alone, without a server or a worker: the SDK's `ActivityEnvironment`
//! (feature `testing` of `temporalio-sdk`) in the harness's conventions. Set the attempt, the
//! deadline, the heartbeat timeout and the last attempt's heartbeat; cancel at a chosen
//! heartbeat; get back the result with every heartbeat the activity recorded, typed.
//!
//! ```rust,no_run
//! # use temporalio_macros::activities;
//! # use temporalio_sdk::activities::{ActivityContext, ActivityError};
//! # pub struct Importer;
//! # #[activities]
//! # impl Importer {
//! #     #[activity]
//! #     pub async fn import(ctx: ActivityContext, rows: u32) -> Result<u32, ActivityError> {
//! #         for row in 0..rows {
//! #             ctx.record_heartbeat(row).await.ok();
//! #             if ctx.is_cancelled() { return Err(ActivityError::cancelled()); }
//! #         }
//! #         Ok(rows)
//! #     }
//! # }
//! use temporal_harness::activity_test::ActivityTest;
//!
//! # async fn example() -> Result<(), temporal_harness::activity_test::ActivityTestError> {
//! // The third attempt, resuming from the second's last heartbeat; cancelled at the 2nd.
//! let run = ActivityTest::<u32>::new()
//!     .register(Importer)
//!     .attempt(3)
//!     .previous_heartbeat(40u32)
//!     .cancel_at_heartbeat(2)
//!     .run(Importer::import, 100)
//!     .await?;
//! assert_eq!(run.heartbeats, [0, 1]);
//! assert!(run.cancel_requested && run.result.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! What the SDK's test context cannot give, and so neither can this: a worker shutdown
//! request (the test context has no shutdown signal) and a `Client` (pass none; an activity
//! that asks for one panics in the SDK).

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};
use temporalio_common::data_converters::TemporalSerializable;
use temporalio_sdk::activities::{ActivityError, ActivityImplementer, ExecutableActivity};
use temporalio_sdk::testing::{
    ActivityEnvironment, ActivityEnvironmentError, TestActivityInfoOptions,
};

type Builder = temporalio_sdk::testing::ActivityEnvironmentBuilder<
    temporalio_sdk::testing::activity_environment_builder::SetPayloadConverter,
>;
type Setup = Box<dyn FnOnce(Builder) -> Result<Builder, ActivityTestError> + Send>;

/// One activity run, set up as a test needs it; `H` is the type of its heartbeat details
/// (`()` when it records none).
pub struct ActivityTest<H = ()> {
    setup: Vec<Setup>,
    attempt: u32,
    heartbeat_timeout: Option<Duration>,
    deadline: Option<Duration>,
    cancel_at: Option<usize>,
    _heartbeat: PhantomData<fn() -> H>,
}

/// What a run did.
#[derive(Debug)]
pub struct ActivityRun<O, H> {
    /// What the activity returned.
    pub result: Result<O, ActivityError>,
    /// Every heartbeat's details, in order.
    pub heartbeats: Vec<H>,
    /// Whether the test requested cancellation (`cancel_at_heartbeat`).
    pub cancel_requested: bool,
}

/// Why a run could not happen or could not be recorded (the activity's own failure is the
/// run's `result`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivityTestError {
    /// The activity is a method of a type no instance of which was registered.
    #[error(
        "activity {activity} needs an instance of its type. Fix: `.register(instance)` before \
         `.run(..)`"
    )]
    MissingImplementer {
        /// The activity type.
        activity: String,
    },
    /// A heartbeat's details were of another type than the test's `H`.
    #[error(
        "activity {activity} recorded a heartbeat that is not a {expected}. Fix: declare the \
         test as `ActivityTest::<T>` with the type the activity passes to `record_heartbeat`"
    )]
    HeartbeatType {
        /// The activity type.
        activity: String,
        /// The type the test declared.
        expected: &'static str,
    },
    /// The last attempt's heartbeat could not be encoded.
    #[error("the previous heartbeat cannot be encoded: {0}. Fix: pass a serializable value")]
    PreviousHeartbeat(#[source] temporalio_common::data_converters::PayloadConversionError),
}

impl<H: Send + 'static> Default for ActivityTest<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Send + 'static> ActivityTest<H> {
    /// Attempt 1, no deadline, no heartbeat timeout, no previous heartbeat.
    pub fn new() -> Self {
        ActivityTest {
            setup: Vec::new(),
            attempt: 1,
            heartbeat_timeout: None,
            deadline: None,
            cancel_at: None,
            _heartbeat: PhantomData,
        }
    }

    /// Registers the activities of `instance` (for activities that are methods of it).
    pub fn register<AI: ActivityImplementer + Send + Sync + 'static>(
        mut self,
        instance: AI,
    ) -> Self {
        self.setup.push(Box::new(move |b: Builder| {
            Ok(b.register_activities(instance))
        }));
        self
    }

    /// The attempt the activity sees (`ctx.info().attempt`).
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The heartbeat timeout the activity sees.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }

    /// The deadline the activity sees, this long after the run starts.
    pub fn deadline_in(mut self, left: Duration) -> Self {
        self.deadline = Some(left);
        self
    }

    /// The details of the previous attempt's last heartbeat (`ctx.heartbeat_details()`).
    pub fn previous_heartbeat<T: TemporalSerializable + Send + 'static>(
        mut self,
        details: T,
    ) -> Self {
        self.setup.push(Box::new(move |b: Builder| {
            b.heartbeat_details(details)
                .map_err(ActivityTestError::PreviousHeartbeat)
        }));
        self
    }

    /// Requests cancellation when the activity records its `n`th heartbeat (1 for the first;
    /// 0 counts as 1), as the server does when a cancellation reaches a heartbeating activity.
    pub fn cancel_at_heartbeat(mut self, n: usize) -> Self {
        self.cancel_at = Some(n.max(1));
        self
    }

    /// Runs `activity` with `input`.
    pub async fn run<A: ExecutableActivity>(
        self,
        activity: A,
        input: A::Input,
    ) -> Result<ActivityRun<A::Output, H>, ActivityTestError> {
        let name = activity.name().to_string();
        let recorded: Arc<Mutex<Recorded<H>>> = Arc::default();
        let environment: Arc<OnceLock<Weak<ActivityEnvironment>>> = Arc::default();
        let mut builder = ActivityEnvironment::builder_with_default();
        for step in self.setup {
            builder = step(builder)?;
        }
        let on_heartbeat = {
            let (recorded, environment, cancel_at) =
                (recorded.clone(), environment.clone(), self.cancel_at);
            move |details: Box<dyn Any>| {
                let mut recorded = recorded.lock().unwrap_or_else(|p| p.into_inner());
                match details.downcast::<H>() {
                    Ok(details) => recorded.heartbeats.push(*details),
                    Err(_) => recorded.wrong_type = true,
                }
                let count = recorded.heartbeats.len() + usize::from(recorded.wrong_type);
                if cancel_at == Some(count) {
                    recorded.cancel_requested = true;
                    if let Some(env) = environment.get().and_then(Weak::upgrade) {
                        env.cancel();
                    }
                }
            }
        };
        let now = SystemTime::now();
        let info = TestActivityInfoOptions::builder()
            .activity_type(name.clone())
            .attempt(self.attempt)
            .maybe_heartbeat_timeout(self.heartbeat_timeout)
            .started_time(Some(now))
            .deadline(self.deadline.map(|left| now + left))
            .build();
        let env = Arc::new(builder.on_heartbeat(on_heartbeat).info(info).build());
        let _ = environment.set(Arc::downgrade(&env));
        let result = match env.run(activity, input).await {
            Ok(output) => Ok(output),
            Err(ActivityEnvironmentError::Activity(e)) => Err(e),
            Err(ActivityEnvironmentError::MissingImplementer { .. }) => {
                return Err(ActivityTestError::MissingImplementer { activity: name })
            }
            // Non-exhaustive: a variant a later SDK adds is the run's failure, by its text.
            Err(other) => Err(ActivityError::from(std::io::Error::other(
                other.to_string(),
            ))),
        };
        let recorded = std::mem::take(&mut *recorded.lock().unwrap_or_else(|p| p.into_inner()));
        if recorded.wrong_type {
            return Err(ActivityTestError::HeartbeatType {
                activity: name,
                expected: std::any::type_name::<H>(),
            });
        }
        Ok(ActivityRun {
            result,
            heartbeats: recorded.heartbeats,
            cancel_requested: recorded.cancel_requested,
        })
    }
}

struct Recorded<H> {
    heartbeats: Vec<H>,
    wrong_type: bool,
    cancel_requested: bool,
}

impl<H> Default for Recorded<H> {
    fn default() -> Self {
        Recorded {
            heartbeats: Vec::new(),
            wrong_type: false,
            cancel_requested: false,
        }
    }
}
