//! Per-test settings: what `#[temporal_test(..)]`'s arguments set.

use super::record::RECORD_ENV;
use super::time::{TimeSkippingMode, DEFAULT_MAX_SKIPS};
use super::RunnerError;
use crate::config::{BackendKind, Flavor};
use std::path::PathBuf;
#[cfg(feature = "patches")]
use std::sync::Arc;
use std::time::Duration;

/// Per-test settings, from the attribute's arguments.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub(super) name: String,
    pub(super) timeout: Duration,
    pub(super) replay: bool,
    pub(super) isolated_namespace: bool,
    pub(super) backend: Option<BackendKind>,
    pub(super) flavor: Option<Flavor>,
    pub(super) time_skipping: Option<TimeSkippingMode>,
    pub(super) max_skips: u32,
    pub(super) record: Option<PathBuf>,
    pub(super) patches: Option<Patches>,
    pub(super) replay_pressure: Option<bool>,
}

/// `1` runs every test under replay pressure ([`TestOptions::replay_pressure`]): what the CI
/// template's replay-pressure job sets for the whole suite.
pub const REPLAY_PRESSURE_ENV: &str = "TEMPORAL_HARNESS_REPLAY_PRESSURE";

impl TestOptions {
    /// Defaults for the test `name` (its path): 60 s timeout, replay on, shared namespace.
    pub fn new(name: &str) -> Self {
        TestOptions {
            name: name.to_string(),
            timeout: Duration::from_secs(60),
            replay: true,
            isolated_namespace: false,
            backend: None,
            flavor: None,
            time_skipping: None,
            max_skips: DEFAULT_MAX_SKIPS,
            record: None,
            patches: None,
            replay_pressure: None,
        }
    }

    /// Runs the test's worker without a workflow cache and without sticky queues, so every
    /// workflow task replays the workflow from its start, as after a cache eviction in
    /// production: code that is deterministic only while a workflow stays cached (it reads
    /// process state that changed since) fails with a nondeterminism error in the test.
    /// `TEMPORAL_HARNESS_REPLAY_PRESSURE=1` does it for every test whose option does not say
    /// (`replay_pressure(false)`: never, whatever the environment says).
    pub fn replay_pressure(mut self, on: bool) -> Self {
        self.replay_pressure = Some(on);
        self
    }

    /// Whether the test runs under replay pressure: the option, else the environment.
    pub(super) fn replay_pressure_on(
        &self,
        env: &impl crate::config::Env,
    ) -> Result<bool, RunnerError> {
        if let Some(on) = self.replay_pressure {
            return Ok(on);
        }
        match env.var(REPLAY_PRESSURE_ENV)? {
            None => Ok(false),
            Some(value) => Ok(crate::config::parse_bool(REPLAY_PRESSURE_ENV, &value)?),
        }
    }

    /// Which side of every `patched()` a fresh workflow of the test takes (see [`Patches`]);
    /// replay always follows the history.
    pub fn patches(mut self, patches: Patches) -> Self {
        self.patches = Some(patches);
        self
    }

    /// Records the histories of the test's workflows under `folder` when it passes (see
    /// [`record`]). `TEMPORAL_HARNESS_RECORD_HISTORIES=folder` does it for every test; a
    /// relative folder is taken from the crate's root (`CARGO_MANIFEST_DIR`).
    pub fn record(mut self, folder: impl Into<PathBuf>) -> Self {
        self.record = Some(folder.into());
        self
    }

    /// Where to record, if anywhere: the option, else the environment variable.
    pub(super) fn record_folder(&self) -> Option<PathBuf> {
        let folder = self
            .record
            .clone()
            .or_else(|| std::env::var_os(RECORD_ENV).map(PathBuf::from))?;
        Some(match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(root) if folder.is_relative() => PathBuf::from(root).join(folder),
            _ => folder,
        })
    }

    /// Skips time: a workflow's clock jumps ahead while the test awaits it (its result, a
    /// [`TestRunner::sleep`] or [`TestRunner::fast_forward`]). Per workflow on the real server
    /// when it supports it, else on a Java test server of the test's own
    /// ([`TimeSkippingMode::Auto`]).
    pub fn time_skipping(self) -> Self {
        self.time_skipping_mode(TimeSkippingMode::Auto)
    }

    /// Skips time on the server `mode` names.
    pub fn time_skipping_mode(mut self, mode: TimeSkippingMode) -> Self {
        self.time_skipping = Some(mode);
        self
    }

    /// How many times one wait may skip a workflow's clock before the test fails with
    /// [`RunnerError::SkipBudgetSpent`] (default [`DEFAULT_MAX_SKIPS`]): an activity retried
    /// forever under skipped backoff fails fast instead of spinning.
    pub fn max_skips(mut self, max_skips: u32) -> Self {
        self.max_skips = max_skips.max(1);
        self
    }

    /// Fails the test, naming the workflows still open, once the body runs longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether every workflow the test ran is replayed at the end (default: true).
    pub fn replay(mut self, replay: bool) -> Self {
        self.replay = replay;
        self
    }

    /// Runs the test in a namespace of its own instead of the shared one.
    pub fn isolated_namespace(mut self) -> Self {
        self.isolated_namespace = true;
        self
    }

    /// Overrides the configured backend for this test.
    pub fn backend(mut self, backend: BackendKind) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Overrides the configured flavour for this test.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = Some(flavor);
        self
    }

    /// A short, unique stem for the test's task queue and workflow IDs.
    pub(super) fn id_prefix(&self) -> String {
        let short = self.name.rsplit("::").next().unwrap_or(&self.name);
        let short: String = short.chars().take(40).collect();
        format!(
            "{short}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    }
}

/// Which side of every `patched()` call a fresh (not replaying) workflow takes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display, strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum Patches {
    /// Every patch is taken: the new code path, as the SDK does by default.
    On,
    /// No patch is taken: the old code path, as a worker that predates the patches runs it.
    /// Needs the `patches` feature (the SDK's patch activation hook is experimental).
    Off,
}

/// The worker options with the test's patch choice applied.
pub(super) fn with_patches(
    options: temporalio_sdk::WorkerOptions,
    patches: Option<Patches>,
) -> Result<temporalio_sdk::WorkerOptions, RunnerError> {
    match patches {
        None | Some(Patches::On) => Ok(options),
        #[cfg(feature = "patches")]
        Some(Patches::Off) => {
            let mut options = options;
            options.patch_activation_callback = Some(Arc::new(|_| false));
            Ok(options)
        }
        #[cfg(not(feature = "patches"))]
        Some(Patches::Off) => Err(RunnerError::Registration(
            "`patches = \"off\"` needs temporal-harness's `patches` feature (it turns on the \
             SDK's experimental patch activation hook). Fix: \
             temporal-harness = { version = \"..\", features = [\"patches\"] }"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_pressure_comes_from_the_option_or_the_environment_and_a_bad_value_is_refused() {
        let plain = TestOptions::new("t");
        assert!(!plain.replay_pressure_on(&[("X", "1")]).unwrap());
        assert!(plain
            .replay_pressure_on(&[(REPLAY_PRESSURE_ENV, "1")])
            .unwrap());
        assert!(!plain
            .replay_pressure_on(&[(REPLAY_PRESSURE_ENV, "0")])
            .unwrap());
        assert!(TestOptions::new("t")
            .replay_pressure(true)
            .replay_pressure_on(&[(REPLAY_PRESSURE_ENV, "0")])
            .unwrap());
        assert!(!TestOptions::new("t")
            .replay_pressure(false)
            .replay_pressure_on(&[(REPLAY_PRESSURE_ENV, "1")])
            .unwrap());
        let err = plain
            .replay_pressure_on(&[(REPLAY_PRESSURE_ENV, "maybe")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TEMPORAL_HARNESS_REPLAY_PRESSURE = \"maybe\" is not valid")
                && err.contains("Fix:"),
            "{err}"
        );
    }
}
