//! Applying a schedule's timed faults, each at its trigger (a history event, an activity
//! attempt, or an instant), to the worker, the proxies and the stack.

use super::case::{closing_event, stop};
use super::{FaultHarness, POLL};
use crate::error::{context, BoxError};
use crate::faults::model::{ClusterNode, Fault, NetworkFault, Schedule, TimedFault, Trigger};
use crate::runner::History;
use crate::worker_thread::WorkerThread;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

impl FaultHarness {
    pub(super) async fn apply_faults(
        &self,
        schedule: &Schedule,
        ids: &[String],
        started: Instant,
        worker: &tokio::sync::Mutex<Option<WorkerThread>>,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<(), BoxError> {
        for fault in &schedule.faults {
            let Fault::Timed { trigger, fault } = fault else {
                continue;
            };
            self.wait_for(trigger, ids, started).await;
            self.apply(fault, worker, options)
                .await
                .map_err(|e| context(format!("applying {fault:?}"), e))?;
            self.count(BTreeMap::from([(fault.kind(), 1)]));
        }
        Ok(())
    }

    pub(super) async fn wait_for(&self, trigger: &Trigger, ids: &[String], started: Instant) {
        match *trigger {
            Trigger::AtMillis(ms) => {
                let at = started + Duration::from_millis(ms);
                tokio::time::sleep_until(at.into()).await;
            }
            Trigger::AfterEvent { job, event } => {
                self.wait_for_history(ids.get(job), |h| h.events().len() >= event as usize)
                    .await
            }
            Trigger::AfterActivities { job, completed } => {
                self.wait_for_history(ids.get(job), |h| {
                    h.count(EventType::ActivityTaskCompleted) >= completed as usize
                })
                .await
            }
        }
    }

    /// Polls the workflow `id`'s history until `reached` holds or the workflow closed.
    pub(super) async fn wait_for_history(
        &self,
        id: Option<&String>,
        reached: impl Fn(&History) -> bool,
    ) {
        let Some(id) = id else { return };
        loop {
            if let Ok(history) = History::fetch(&self.client, id).await {
                if reached(&history) || closing_event(&history).is_some() {
                    return;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(super) async fn apply(
        &self,
        fault: &TimedFault,
        worker: &tokio::sync::Mutex<Option<WorkerThread>>,
        options: &temporalio_sdk::WorkerOptions,
    ) -> Result<(), BoxError> {
        let control = || {
            self.control
                .as_ref()
                .ok_or("this fault needs a stack of its own: FaultHarness::exclusive()")
        };
        let cluster = || {
            self.cluster
                .as_ref()
                .ok_or("this fault needs a cluster of its own: FaultHarness::cluster()")
        };
        match *fault {
            TimedFault::WorkerCrash => {
                let mut slot = worker.lock().await;
                if let Some(old) = slot.take() {
                    stop(old, false).await;
                }
                *slot = Some(self.start_worker(options).await?);
            }
            TimedFault::ServerRestart => {
                let address = control()?
                    .restart_temporal(false, Duration::from_secs(90))
                    .await?;
                for proxy in [&self.worker_proxy, &self.client_proxy] {
                    proxy.set_upstream(&address);
                    proxy.reset_connections();
                }
            }
            TimedFault::PostgresOutage { outage, millis } => {
                let control = control()?;
                control.postgres_down(outage).await?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                control.postgres_up(outage).await?;
            }
            TimedFault::Network { fault, millis } => {
                let proxy = &self.worker_proxy;
                let lasting = Duration::from_millis(millis);
                match fault {
                    NetworkFault::Latency { millis } => {
                        proxy.set_latency(Duration::from_millis(millis));
                        tokio::time::sleep(lasting).await;
                        proxy.set_latency(Duration::ZERO);
                    }
                    NetworkFault::Drop => {
                        proxy.set_refusing(true);
                        tokio::time::sleep(lasting).await;
                        proxy.set_refusing(false);
                    }
                    NetworkFault::Reset => proxy.reset_connections(),
                }
            }
            TimedFault::PostgresFailover { millis } => {
                self.failover
                    .as_ref()
                    .ok_or("this fault needs a standby of its own: FaultHarness::failover()")?
                    .fail_over(Duration::from_millis(millis), Duration::from_secs(90))
                    .await?;
            }
            TimedFault::NodeDown { node, millis } => {
                let nodes = cluster()?;
                nodes.kill(node.name()).await?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                nodes.restart(node.name(), Duration::from_secs(90)).await?;
                if node == ClusterNode::Frontend {
                    // Connections through the proxies went to the process that died.
                    for proxy in [&self.worker_proxy, &self.client_proxy] {
                        proxy.reset_connections();
                    }
                }
            }
            TimedFault::NodeFreeze { node, millis } => {
                let nodes = cluster()?;
                nodes.pause(node.name())?;
                tokio::time::sleep(Duration::from_millis(millis)).await;
                nodes.resume(node.name())?;
            }
        }
        Ok(())
    }
}
