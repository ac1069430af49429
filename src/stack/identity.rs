//! A stack's identity: the part of the configuration that decides which stack a run uses.
//! Two configurations with the same identity share one stack; any difference boots another.

use crate::config::{BackendKind, Flavor, ImageSource, OfficialImages, StackConfig, Topology};
use crate::stack::PersistenceFault;
use crate::versions::Versions;
use std::path::Path;

/// Every field that makes a stack what it is, and nothing that only says how a run uses it.
/// Built by destructuring the whole [`StackConfig`] ([`StackIdentity::of`]): a field added
/// there does not compile until it is classified here.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StackIdentity<'a> {
    /// The resolved backend (never `auto`: that resolves differently on other machines).
    backend: BackendKind,
    flavor: Flavor,
    topology: Topology,
    persistence_faults: &'a [PersistenceFault],
    postgres_standby: bool,
    frontend_port: Option<u16>,
    images: ImageSource,
    official_images: &'a OfficialImages,
    /// Which binaries the local backend runs.
    tools_dir: &'a Path,
    /// What provisioning built: a new pin boots a new stack.
    versions: &'static Versions,
}

impl<'a> StackIdentity<'a> {
    /// The identity of `config` booted on `backend` (the backend `auto` resolved to).
    pub(crate) fn of(config: &'a StackConfig, backend: BackendKind) -> Self {
        let StackConfig {
            // Resolved: `backend` above.
            backend: _,
            flavor,
            topology,
            persistence_faults,
            postgres_standby,
            images,
            official_images,
            frontend_port,
            tools_dir,
            // How a run uses the stack, not what it is: tests get namespaces of their own on
            // one stack; waiting, keeping and lingering are the run's choices; a run reuses a
            // stack booted with or without the Web UI (and warns).
            namespace: _,
            startup_timeout: _,
            keep: _,
            linger: _,
            ui: _,
            // Where stacks live: the key names a folder inside it.
            state_dir: _,
            // Never booted: an external deployment has no stack folder.
            external: _,
        } = config;
        StackIdentity {
            backend,
            flavor: *flavor,
            topology: *topology,
            persistence_faults,
            postgres_standby: *postgres_standby,
            frontend_port: *frontend_port,
            images: *images,
            official_images,
            tools_dir,
            versions: Versions::pinned(),
        }
    }

    /// The stack's key, its folder's name: `<backend>-<flavor>-<hash>`, the hash over the
    /// identity's JSON (field order and value spelling are the code's, unlike `Debug` text).
    pub(crate) fn key(&self) -> String {
        let stable = serde_json::to_vec(self).expect("an identity is plain data");
        format!("{}-{}-{:016x}", self.backend, self.flavor, fnv1a(&stable))
    }
}

/// FNV-1a, 64 bits: stable across Rust releases and platforms (std's hashers are not), so a
/// key names the same folder for every process and version of the harness.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_by_what_matters() {
        let base = StackConfig::default();
        let key = |config: &StackConfig| StackIdentity::of(config, BackendKind::Containers).key();
        let k = key(&base);
        assert!(k.starts_with("containers-postgres-"), "{k}");
        assert_eq!(k, key(&StackConfig::default()));
        assert_ne!(k, StackIdentity::of(&base, BackendKind::Local).key());
        let differs = [
            StackConfig {
                flavor: Flavor::Dev,
                ..StackConfig::default()
            },
            StackConfig {
                topology: Topology::Cluster,
                ..StackConfig::default()
            },
            StackConfig {
                postgres_standby: true,
                ..StackConfig::default()
            },
            StackConfig {
                frontend_port: Some(7233),
                ..StackConfig::default()
            },
            StackConfig {
                images: ImageSource::Local,
                ..StackConfig::default()
            },
            StackConfig {
                tools_dir: "/elsewhere".into(),
                ..StackConfig::default()
            },
            StackConfig {
                persistence_faults: vec![PersistenceFault {
                    store: crate::stack::Store::ExecutionStore,
                    method: "UpdateWorkflowExecution",
                    error: crate::stack::PersistenceError::Timeout,
                    percent: 10,
                    seed: 1,
                }],
                ..StackConfig::default()
            },
        ];
        for config in &differs {
            assert_ne!(key(config), k, "{config:?} shares the default stack");
        }
        // How a run uses a stack never changes which stack it is.
        let same = [
            StackConfig {
                namespace: "other".into(),
                ..StackConfig::default()
            },
            StackConfig {
                keep: true,
                ui: Some(true),
                ..StackConfig::default()
            },
            StackConfig {
                backend: BackendKind::Local,
                ..StackConfig::default()
            },
            StackConfig {
                startup_timeout: std::time::Duration::from_secs(1),
                linger: std::time::Duration::ZERO,
                ..StackConfig::default()
            },
        ];
        for config in &same {
            assert_eq!(key(config), k, "{config:?} boots a stack of its own");
        }
    }
}
