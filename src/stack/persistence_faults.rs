//! Faults at the persistence layer, injected by the Temporal server itself: its fault
//! injector (`common/persistence/faultinjection/` in the server source) wraps each data store
//! and fails a method's calls at a rate, with a seed, as configured in the static config
//! (`persistence.datastores.<store>.faultInjection`). A stack with such faults starts the
//! server from its own config template (installed next to the binary by provisioning) with
//! that section added.

use std::fmt;

/// A data store of the server (`DataStoreName` in the server's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Store {
    /// Workflow executions and their histories.
    ExecutionStore,
    /// History shards (their ownership and range IDs).
    ShardStore,
    /// Task queues and their tasks (matching).
    TaskStore,
    /// Namespaces.
    MetadataStore,
}

impl Store {
    /// Methods of the store that a workload exercises, as the server names them.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Store::ExecutionStore => &[
                "CreateWorkflowExecution",
                "UpdateWorkflowExecution",
                "GetWorkflowExecution",
                "GetCurrentExecution",
                "AppendHistoryNodes",
                "ReadHistoryBranch",
                "GetHistoryTasks",
                "RangeCompleteHistoryTasks",
            ],
            Store::ShardStore => &["UpdateShard", "GetOrCreateShard"],
            Store::TaskStore => &["CreateTasks", "GetTasks", "CompleteTasksLessThan"],
            Store::MetadataStore => &["GetNamespace", "ListNamespaces"],
        }
    }

    /// The server's name of the store.
    pub fn name(self) -> &'static str {
        match self {
            Store::ExecutionStore => "ExecutionStore",
            Store::ShardStore => "ShardStore",
            Store::TaskStore => "TaskStore",
            Store::MetadataStore => "MetadataStore",
        }
    }
}

/// How an injected call fails (the server's error names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum PersistenceError {
    /// The call is not made; the caller is told it timed out.
    Timeout,
    /// The call is made and succeeds, and the caller is told it timed out: the ambiguous
    /// write a real database gives when a commit's answer is lost.
    ExecuteAndTimeout,
    /// The caller is told its shard moved to another host (it reloads the shard).
    ShardOwnershipLost,
    /// The caller is told the system is overloaded.
    ResourceExhausted,
    /// The caller is told the store is unavailable.
    Unavailable,
}

impl PersistenceError {
    /// Every kind, in a stable order.
    pub const ALL: [PersistenceError; 5] = [
        PersistenceError::Timeout,
        PersistenceError::ExecuteAndTimeout,
        PersistenceError::ShardOwnershipLost,
        PersistenceError::ResourceExhausted,
        PersistenceError::Unavailable,
    ];

    /// A short name of its kind, for statistics.
    pub fn kind(self) -> &'static str {
        match self {
            PersistenceError::Timeout => "persistence timeout",
            PersistenceError::ExecuteAndTimeout => "persistence execute-and-timeout",
            PersistenceError::ShardOwnershipLost => "persistence shard ownership lost",
            PersistenceError::ResourceExhausted => "persistence resource exhausted",
            PersistenceError::Unavailable => "persistence unavailable",
        }
    }

    /// The server's name of the error.
    pub fn name(self) -> &'static str {
        match self {
            PersistenceError::Timeout => "Timeout",
            PersistenceError::ExecuteAndTimeout => "ExecuteAndTimeout",
            PersistenceError::ShardOwnershipLost => "ShardOwnershipLost",
            PersistenceError::ResourceExhausted => "ResourceExhausted",
            PersistenceError::Unavailable => "Unavailable",
        }
    }
}

/// One method of one store failing with `error` on `percent`% of its calls, drawn from
/// `seed` (the server samples each call; the same seed gives the same sequence of draws).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PersistenceFault {
    /// Which store.
    pub store: Store,
    /// Which of its methods (one of [`Store::methods`]).
    pub method: &'static str,
    /// How calls fail.
    pub error: PersistenceError,
    /// Share of calls that fail, 1 to 100.
    pub percent: u8,
    /// Seed of the server's draws (non-zero: zero would make it take the time).
    pub seed: u32,
}

impl fmt::Display for PersistenceFault {
    /// Rust code that rebuilds it, for regression cases.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PersistenceFault {{ store: Store::{:?}, method: {:?}, error: PersistenceError::{:?}, \
             percent: {}, seed: {} }}",
            self.store, self.method, self.error, self.percent, self.seed
        )
    }
}

/// Why a set of persistence faults cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("persistence fault {fault}: {why}. Fix: {fix}")]
pub struct InvalidFault {
    fault: String,
    why: String,
    fix: &'static str,
}

/// Checks each fault names a method of its store and a rate of 1-100%, and that no method
/// gets the same error twice.
pub fn validate(faults: &[PersistenceFault]) -> Result<(), InvalidFault> {
    for (i, fault) in faults.iter().enumerate() {
        let invalid = |why: String, fix| InvalidFault {
            fault: fault.to_string(),
            why,
            fix,
        };
        if !fault.store.methods().contains(&fault.method) {
            return Err(invalid(
                format!("{} has no method {}", fault.store.name(), fault.method),
                "use one of Store::methods()",
            ));
        }
        if !(1..=100).contains(&fault.percent) {
            return Err(invalid(
                format!("a rate of {}%", fault.percent),
                "give a percent from 1 to 100",
            ));
        }
        if faults[..i]
            .iter()
            .any(|f| (f.store, f.method, f.error) == (fault.store, fault.method, fault.error))
        {
            return Err(invalid(
                "the same method and error twice".into(),
                "merge them into one fault",
            ));
        }
    }
    Ok(())
}

/// The `faultInjection:` section for the default data store, indented to sit under
/// `datastores.default` of the server's config template.
pub(crate) fn config_section(faults: &[PersistenceFault]) -> String {
    let mut stores: Vec<Store> = faults.iter().map(|f| f.store).collect();
    stores.dedup();
    stores.sort_by_key(|s| s.name());
    stores.dedup();
    let mut out = String::from(
        "            faultInjection:\n                targets:\n                    dataStores:\n",
    );
    for store in stores {
        out.push_str(&format!(
            "                        {}:\n                            methods:\n",
            store.name()
        ));
        let mut methods: Vec<&str> = faults
            .iter()
            .filter(|f| f.store == store)
            .map(|f| f.method)
            .collect();
        methods.sort();
        methods.dedup();
        for method in methods {
            let of_method: Vec<&PersistenceFault> = faults
                .iter()
                .filter(|f| f.store == store && f.method == method)
                .collect();
            // One seed per method in the server's config: the first fault's.
            out.push_str(&format!(
                "                                {method}:\n                                    seed: {}\n                                    errors:\n",
                of_method[0].seed.max(1)
            ));
            for fault in of_method {
                out.push_str(&format!(
                    "                                        {}: {:.2}\n",
                    fault.error.name(),
                    f64::from(fault.percent) / 100.0
                ));
            }
        }
    }
    out
}

/// Where the section goes in the server's template: the PostgreSQL branch's default store.
const ANCHOR: &str = "{{- else if eq $db \"postgres12\" \"postgres12_pgx\" }}\n        default:\n";

/// What [`render`] needs of the server's config template.
pub(crate) const TEMPLATE_SHAPE: &str =
    "a PostgreSQL `default` store under one `postgres12` branch";

/// The server's config template with `faults` injected into its PostgreSQL default store;
/// `None` when the template does not have [`TEMPLATE_SHAPE`] (another server version).
pub(crate) fn render(template: &str, faults: &[PersistenceFault]) -> Option<String> {
    if !template.starts_with("# enable-template") || template.matches(ANCHOR).count() != 1 {
        return None;
    }
    Some(template.replacen(ANCHOR, &format!("{ANCHOR}{}", config_section(faults)), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(method: &'static str, error: PersistenceError, percent: u8) -> PersistenceFault {
        PersistenceFault {
            store: Store::ExecutionStore,
            method,
            error,
            percent,
            seed: 7,
        }
    }

    #[test]
    fn the_section_nests_store_method_and_errors() {
        let section = config_section(&[
            fault(
                "UpdateWorkflowExecution",
                PersistenceError::ExecuteAndTimeout,
                20,
            ),
            fault("UpdateWorkflowExecution", PersistenceError::Timeout, 5),
            PersistenceFault {
                store: Store::ShardStore,
                method: "UpdateShard",
                error: PersistenceError::ShardOwnershipLost,
                percent: 100,
                seed: 3,
            },
        ]);
        let expected = "            faultInjection:
                targets:
                    dataStores:
                        ExecutionStore:
                            methods:
                                UpdateWorkflowExecution:
                                    seed: 7
                                    errors:
                                        ExecuteAndTimeout: 0.20
                                        Timeout: 0.05
                        ShardStore:
                            methods:
                                UpdateShard:
                                    seed: 3
                                    errors:
                                        ShardOwnershipLost: 1.00
";
        assert_eq!(section, expected);
    }

    #[test]
    fn bad_faults_are_refused_with_the_fix() {
        let err = validate(&[fault("NoSuchMethod", PersistenceError::Timeout, 5)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("ExecutionStore has no method NoSuchMethod"),
            "{err}"
        );
        let err =
            validate(&[fault("GetWorkflowExecution", PersistenceError::Timeout, 0)]).unwrap_err();
        assert!(err.to_string().contains("from 1 to 100"), "{err}");
        let twice = fault("GetWorkflowExecution", PersistenceError::Timeout, 5);
        assert!(validate(&[twice, twice]).is_err());
        assert!(validate(&[twice]).is_ok());
    }

    #[test]
    fn rendering_needs_the_templates_shape() {
        let template = format!(
            "# enable-template\npersistence:\n    datastores:\n        {ANCHOR}            sql:\n"
        );
        let rendered = render(
            &template,
            &[fault(
                "GetWorkflowExecution",
                PersistenceError::Unavailable,
                50,
            )],
        )
        .unwrap();
        assert!(
            rendered.contains("        default:\n            faultInjection:\n"),
            "{rendered}"
        );
        assert!(
            rendered.ends_with("Unavailable: 0.50\n            sql:\n"),
            "{rendered}"
        );
        assert_eq!(render("# enable-template\nlog:\n", &[]), None);
    }

    #[test]
    fn display_is_rust_that_rebuilds_the_fault() {
        let shown = fault(
            "AppendHistoryNodes",
            PersistenceError::ResourceExhausted,
            30,
        )
        .to_string();
        assert_eq!(
            shown,
            "PersistenceFault { store: Store::ExecutionStore, method: \"AppendHistoryNodes\", \
             error: PersistenceError::ResourceExhausted, percent: 30, seed: 7 }"
        );
    }
}
