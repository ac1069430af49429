//! The stack: a ready Temporal server (and, on the PostgreSQL flavour, its PostgreSQL),
//! wherever it runs. [`Stack::acquire`] finds or boots the run's shared stack.
//!
//! Where things are: `handle` (the [`Stack`] a process holds), `boot` (find-or-boot and its
//! guard), `backend` (which backend runs a configuration), `identity` (which configurations
//! share a stack), `state` (the on-disk state of a stack: folder, lock, leases, keeper);
//! one folder per backend (`containers/`, `local/`, `external`), and the control of a
//! running stack (`control`, `local/`'s cluster and failover).

mod backend;
mod boot;
mod connect;
mod containers;
mod control;
mod endpoints;
mod error;
mod external;
mod handle;
mod identity;
mod kept;
mod labels;
mod local;
pub(crate) mod persistence_faults;
mod ports;
mod postgres;
mod private_dir;
mod process;
mod progress;
mod readiness;
mod reaper;
mod setup_steps;
pub(crate) mod state;
mod test_server;
mod tools;
pub(crate) mod ui;

pub use connect::{connect, TemporalTarget, TlsPems};
pub use control::{ClusterControl, FailoverControl, Outage, StackControl};
pub use endpoints::Endpoints;
pub use error::{
    BootError, ControlError, DockerError, PostgresError, StackError, StateError, TemporalError,
    ToolsError,
};
pub use external::RunScope;
pub(crate) use handle::prepare_namespace;
pub use handle::{down, Shutdown, Stack};
pub(crate) use identity::fnv1a;
pub(crate) use local::CLUSTER_NODES;
pub use persistence_faults::{PersistenceError, PersistenceFault, Store};
#[cfg(feature = "validation")]
pub(crate) use postgres::connect_once as connect_postgres;
pub(crate) use readiness::NamespaceData;
// Kept public: whether a database's schema is new enough for the pinned server, for a
// platform team's own tooling (its tests use it so).
pub use postgres::{check_schema, SchemaStatus};
pub use private_dir::PrivateStateDir;
pub(crate) use process::euid;
pub use test_server::TestServer;
pub(crate) use tools::default_tools_dir;
