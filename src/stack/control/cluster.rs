//! Kill, pause and restart control over the nodes of a local cluster stack.

use crate::error::BoxError;
use crate::poll::{retry, Attempt};
use crate::stack::local::server::{log_file, read_nodes, spawn, write_nodes, NodeSpec};
use crate::stack::process::process_alive;
use crate::stack::state::StackDir;
use crate::stack::{readiness, ControlError, StackError, CLUSTER_NODES};
use std::time::Duration;

/// Kill, pause and restart control over the nodes of a local cluster stack. Use it on a stack
/// of your own (a private `state_dir`): other tests on a shared stack would see the faults.
#[derive(Debug, Clone)]
pub struct ClusterControl {
    dir: StackDir,
}

impl ClusterControl {
    /// Control over the cluster in `dir`; fails when the stack there is not a cluster.
    pub(crate) fn new(dir: StackDir) -> Result<Self, StackError> {
        read_nodes(&dir)?;
        Ok(ClusterControl { dir })
    }

    /// The nodes' names: `frontend`, `history-1`, `history-2`, `matching`, `worker`.
    pub fn nodes(&self) -> Vec<String> {
        CLUSTER_NODES.iter().map(|(n, _)| n.to_string()).collect()
    }

    fn node(&self, name: &str) -> Result<(Vec<NodeSpec>, usize), StackError> {
        let nodes = read_nodes(&self.dir)?;
        let index = nodes.iter().position(|n| n.name == name).ok_or_else(|| {
            StackError::Control(ControlError::Failed {
                action: format!("find node `{name}`"),
                source: "the cluster has no node of that name".into(),
                fix: format!("name one of {}", self.nodes().join(", ")),
            })
        })?;
        Ok((nodes, index))
    }

    /// A failed operation on node `name`: its own log says what happened to it.
    fn failed(&self, action: String, name: &str, why: impl Into<BoxError>) -> StackError {
        StackError::Control(ControlError::Failed {
            action,
            source: why.into(),
            fix: format!(
                "the node's process may have exited or been stopped by someone else: see its \
                 log, {}, and the stack's folder {}",
                log_file(&self.dir, name).display(),
                self.dir.path().display()
            ),
        })
    }

    fn signal(&self, name: &str, signal: i32, action: &str) -> Result<i32, StackError> {
        let (nodes, i) = self.node(name)?;
        let pid = nodes[i].pid;
        // SAFETY: kill(2) with a pid this stack started; no memory is shared.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(self.failed(
                format!("{action} {name} (pid {pid})"),
                name,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(pid)
    }

    /// Kills node `name` (SIGKILL, as a crash) and waits until it is gone.
    pub async fn kill(&self, name: &str) -> Result<(), StackError> {
        let pid = self.signal(name, libc::SIGKILL, "kill")?;
        retry(
            Duration::from_secs(10),
            Duration::from_millis(10),
            |_| async move {
                match process_alive(pid) {
                    false => Attempt::Done(()),
                    true => Attempt::Again(self.failed(
                        format!("kill {name} (pid {pid})"),
                        name,
                        "it still runs 10 s after SIGKILL",
                    )),
                }
            },
        )
        .await
    }

    /// Freezes node `name` (SIGSTOP): its connections stay open and nothing answers.
    pub fn pause(&self, name: &str) -> Result<(), StackError> {
        self.signal(name, libc::SIGSTOP, "pause").map(drop)
    }

    /// Thaws node `name` after [`ClusterControl::pause`].
    pub fn resume(&self, name: &str) -> Result<(), StackError> {
        self.signal(name, libc::SIGCONT, "resume").map(drop)
    }

    /// Kills node `name` if it runs and starts it again with the same ports and settings; the
    /// frontend is waited for until it serves the namespace again (at most `timeout`).
    pub async fn restart(&self, name: &str, timeout: Duration) -> Result<(), StackError> {
        let (mut nodes, i) = self.node(name)?;
        if process_alive(nodes[i].pid) {
            self.kill(name).await?;
        }
        let spec = nodes[i].clone();
        nodes[i] = spawn(&self.dir, &spec.program, &spec.name, spec.args, spec.env)?;
        write_nodes(&self.dir, &nodes)?;
        if name == "frontend" {
            let endpoints = self.dir.endpoints().ok_or_else(|| {
                self.failed(
                    "restart the frontend".into(),
                    name,
                    "the stack's endpoints file is gone",
                )
            })?;
            readiness::wait_ready(&endpoints.temporal, &endpoints.namespace, false, timeout)
                .await?;
        }
        Ok(())
    }
}
