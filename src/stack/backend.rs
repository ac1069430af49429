//! Which backend a configuration runs on: `auto` resolved (containers when Docker answers,
//! else local processes), and the combinations only the local backend runs.

use super::{containers, local, persistence_faults, BootError, StackError};
use crate::config::{BackendKind, Flavor, StackConfig, Topology};

/// Picks the backend for `auto`: containers when Docker answers, else local when the
/// binaries exist; one line says which and why.
pub(super) async fn resolve(config: &StackConfig) -> Result<BackendKind, StackError> {
    if config.topology == Topology::Cluster
        || !config.persistence_faults.is_empty()
        || config.postgres_standby
    {
        return local_only_backend(config);
    }
    if config.backend != BackendKind::Auto {
        return Ok(config.backend);
    }
    if config
        .external
        .as_ref()
        .is_some_and(|e| !e.address.is_empty())
    {
        eprintln!("temporal-harness: backend external (TEMPORAL_HARNESS_ADDRESS is set)");
        return Ok(BackendKind::External);
    }
    let docker = match containers::docker().await {
        Ok(_) => {
            eprintln!("temporal-harness: backend containers (Docker answers)");
            return Ok(BackendKind::Containers);
        }
        Err(e) => e,
    };
    match local::missing_binaries(config) {
        None => {
            eprintln!("temporal-harness: backend local (Docker unreachable, local binaries found)");
            Ok(BackendKind::Local)
        }
        Some(local) => Err(StackError::Boot(BootError::NoBackend {
            docker: Box::new(docker),
            local: Box::new(local),
        })),
    }
}

/// The cluster topology and persistence faults run the full server as local processes on
/// PostgreSQL; any other combination is refused, naming the fix.
fn local_only_backend(config: &StackConfig) -> Result<BackendKind, StackError> {
    let what = if config.topology == Topology::Cluster {
        "topology = \"cluster\""
    } else if config.postgres_standby {
        "a PostgreSQL standby"
    } else {
        "a stack with persistence faults"
    };
    let unsupported = |text: String| {
        Err(StackError::Config(crate::config::ConfigError::Unsupported(
            text,
        )))
    };
    if let Err(e) = persistence_faults::validate(&config.persistence_faults) {
        return unsupported(e.to_string());
    }
    let refuse = |why: &str| {
        unsupported(format!(
            "{what} {why}. Fix: TEMPORAL_HARNESS_BACKEND=local TEMPORAL_HARNESS_FLAVOR=postgres{}",
            if config.topology == Topology::Cluster {
                ", or TEMPORAL_HARNESS_TOPOLOGY=single"
            } else {
                ""
            }
        ))
    };
    if config.flavor != Flavor::Postgres {
        return refuse("needs the PostgreSQL flavour (the dev server is one process)");
    }
    match config.backend {
        BackendKind::Local => Ok(BackendKind::Local),
        BackendKind::Auto => {
            eprintln!("temporal-harness: backend local ({what} runs as local processes)");
            Ok(BackendKind::Local)
        }
        BackendKind::Containers => refuse("runs on the local backend (containers: not yet)"),
        BackendKind::External => refuse("describes stacks the harness boots, not a deployment"),
    }
}
