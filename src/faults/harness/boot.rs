//! Getting a harness: on the run's shared stack, or on a stack of its own shaped for the
//! faults it will apply (containers, persistence faults, a cluster, a standby); and giving it up.

use super::FaultHarness;
use crate::config::StackConfig;
use crate::config::{BackendKind, Flavor, TlsFiles, Topology};
use crate::faults::proxy::Proxy;
use crate::stack::{
    connect, BootError, PersistenceFault, PrivateStateDir, Stack, StackControl, StackError,
    TemporalTarget,
};
use std::sync::Mutex;
use std::time::Duration;
use temporalio_client::{Client, ClientOptions};

impl FaultHarness {
    /// On the run's shared stack: worker crashes, network and activity faults only (they
    /// touch nothing but this harness's worker), so tests using it can run in parallel.
    pub async fn shared() -> Result<FaultHarness, StackError> {
        let config = StackConfig::load()?;
        let stack = Stack::acquire(&config).await?;
        Self::over(stack, None, None).await
    }

    /// On a containers stack on PostgreSQL of its own: every fault kind, including server
    /// restarts and PostgreSQL outages. Boots a stack (about 8 s); run such tests serially.
    pub async fn exclusive() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| config.backend = BackendKind::Containers).await?;
        let control = stack.control().await?;
        Self::over(stack, Some(control), Some(private)).await
    }

    /// On a local stack of its own whose server injects `faults` at its persistence layer
    /// (ambiguous writes, timeouts, lost shard ownership, overload, unavailability): each
    /// set of persistence faults is a server configuration, so each gets its own stack
    /// (about 1 s to boot locally); worker, network and activity faults apply on top.
    pub async fn with_persistence_faults(
        faults: Vec<PersistenceFault>,
    ) -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.persistence_faults = faults.clone();
        })
        .await?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.persistence = faults;
        Ok(harness)
    }

    /// On a cluster of its own (frontend, two history hosts, matching and worker as local
    /// processes on PostgreSQL): cluster nodes killed or frozen, on top of the shared kinds.
    /// Boots in about 1 s; tear it down with [`FaultHarness::shutdown`].
    pub async fn cluster() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.topology = Topology::Cluster;
        })
        .await?;
        let nodes = stack.cluster()?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.cluster = Some(nodes);
        Ok(harness)
    }

    /// On a local stack of its own whose PostgreSQL has a synchronous streaming standby: one
    /// [`TimedFault::PostgresFailover`] per harness (the standby is used up), on top of the
    /// shared kinds. Boots in about 3 s (the base backup).
    ///
    /// [`TimedFault::PostgresFailover`]: crate::faults::TimedFault::PostgresFailover
    pub async fn failover() -> Result<FaultHarness, StackError> {
        let (stack, private) = own_stack(|config| {
            config.backend = BackendKind::Local;
            config.postgres_standby = true;
        })
        .await?;
        let control = stack.failover()?;
        let mut harness = Self::over(stack, None, Some(private)).await?;
        harness.failover = Some(control);
        Ok(harness)
    }

    pub(super) async fn over(
        stack: Stack,
        control: Option<StackControl>,
        private_state: Option<PrivateStateDir>,
    ) -> Result<FaultHarness, StackError> {
        let endpoints = stack.endpoints().clone();
        let upstream = &endpoints.temporal.address;
        let proxy = |e: std::io::Error| {
            StackError::Boot(BootError::ServiceFailed {
                service: "fault proxy".into(),
                source: e.into(),
            })
        };
        let worker_proxy = Proxy::start(upstream).await.map_err(proxy)?;
        let client_proxy = Proxy::start(upstream).await.map_err(proxy)?;
        let client_target = through(&endpoints.temporal, &client_proxy);
        let connection = connect(&client_target, Duration::from_secs(10)).await?;
        let client = Client::new(
            connection,
            ClientOptions::new(endpoints.namespace.clone()).build(),
        )
        .map_err(|e| {
            StackError::Boot(BootError::ServiceFailed {
                service: "client".into(),
                source: e.into(),
            })
        })?;
        Ok(FaultHarness {
            worker_target: through(&endpoints.temporal, &worker_proxy),
            namespace: endpoints.namespace,
            stack: Some(stack),
            control,
            worker_proxy,
            client_proxy,
            client,
            applied: Mutex::default(),
            private_state,
            persistence: Vec::new(),
            cluster: None,
            failover: None,
        })
    }

    /// Stops the proxies and gives up the stack (an exclusive one is torn down now).
    pub async fn shutdown(mut self) -> Result<(), StackError> {
        if let Some(stack) = self.stack.take() {
            stack.shutdown(Duration::from_secs(60)).await?;
        }
        // Tears down what is left in the private folder and removes it.
        drop(self.private_state.take());
        Ok(())
    }
}

/// A target like `original`, reached through `proxy`: TLS still verifies the original host.
pub(super) fn through(original: &TemporalTarget, proxy: &Proxy) -> TemporalTarget {
    let mut target = TemporalTarget {
        address: proxy.address(),
        ..original.clone()
    };
    let tls_on = original.tls.as_ref().is_some_and(TlsFiles::is_set) || original.api_key.is_some();
    if tls_on {
        let host = original
            .address
            .rsplit_once(':')
            .map_or(original.address.as_str(), |(h, _)| h);
        let mut tls = original.tls.clone().unwrap_or_default();
        tls.server_name.get_or_insert_with(|| host.to_string());
        target.tls = Some(tls);
    }
    target
}

/// A PostgreSQL stack of the harness's own, configured by `shape`, in a private state folder
/// (never inside the shared one: a run sweeping that folder for stale stacks would take this
/// one for one); returns the stack and the folder, which removes what is in it when dropped.
pub(super) async fn own_stack(
    shape: impl FnOnce(&mut StackConfig),
) -> Result<(Stack, PrivateStateDir), StackError> {
    let mut config = StackConfig::load()?;
    config.flavor = Flavor::Postgres;
    config.ui = Some(false);
    shape(&mut config);
    let private = PrivateStateDir::new("faults")?;
    config.state_dir = private.path().to_path_buf();
    Ok((Stack::acquire(&config).await?, private))
}
