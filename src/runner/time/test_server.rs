//! The fallback: time skipping on a Java test server of the test's own (see
//! `stack::TestServer` for why one per test), for servers without per-workflow time skipping.
//! Locked while the test body runs client code, unlocked while it awaits a workflow's result,
//! as the Java, Python, TypeScript and .NET SDKs do.

use crate::config::BackendKind;
use crate::config::StackConfig;
use crate::error::Grpc;
use crate::runner::RunnerError;
use crate::stack::{Endpoints, TestServer};
use std::future::Future;
use std::time::{Duration, SystemTime};
use temporalio_client::tonic;
use temporalio_common::protos::temporal::api::testservice::v1::{
    LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest,
};

pub(super) struct TestServerTime {
    server: TestServer,
}

impl TestServerTime {
    pub(super) async fn start(config: &StackConfig) -> Result<Self, RunnerError> {
        // The server starts with skipping locked: time stands still while the body runs
        // client code, and moves only when asked.
        Ok(TestServerTime {
            server: TestServer::start(config).await?,
        })
    }

    pub(super) fn endpoints(&self) -> Endpoints {
        Endpoints::without_postgres(
            BackendKind::Local,
            None,
            self.server.target().address.clone(),
            "default",
            None,
            "time-skipping test server".into(),
        )
    }

    /// Awaits `waiting` with time skipping unlocked.
    pub(super) async fn skipping_while<T>(
        &self,
        waiting: impl Future<Output = T>,
    ) -> Result<T, RunnerError> {
        self.unlock().await?;
        let out = waiting.await;
        self.lock().await?;
        Ok(out)
    }

    pub(super) async fn sleep(&self, duration: Duration) -> Result<(), RunnerError> {
        let duration = duration.try_into().map_err(|_| {
            RunnerError::TimeSkipping(format!("{duration:?} is out of range").into())
        })?;
        self.server
            .connection()
            .test_service()
            .unlock_time_skipping_with_sleep(tonic::Request::new(SleepRequest {
                duration: Some(duration),
            }))
            .await
            .map(drop)
            .map_err(status)
    }

    pub(super) async fn now(&self) -> Result<SystemTime, RunnerError> {
        let response = self
            .server
            .connection()
            .test_service()
            .get_current_time(tonic::Request::new(()))
            .await
            .map_err(status)?
            .into_inner();
        let time = response
            .time
            .ok_or_else(|| RunnerError::TimeSkipping("the server sent no time".into()))?;
        SystemTime::try_from(time).map_err(|e| {
            RunnerError::TimeSkipping(format!("the server sent a time out of range: {e}").into())
        })
    }

    async fn lock(&self) -> Result<(), RunnerError> {
        self.server
            .connection()
            .test_service()
            .lock_time_skipping(tonic::Request::new(LockTimeSkippingRequest {}))
            .await
            .map(drop)
            .map_err(status)
    }

    async fn unlock(&self) -> Result<(), RunnerError> {
        self.server
            .connection()
            .test_service()
            .unlock_time_skipping(tonic::Request::new(UnlockTimeSkippingRequest {}))
            .await
            .map(drop)
            .map_err(status)
    }
}

fn status(s: tonic::Status) -> RunnerError {
    RunnerError::TimeSkipping(Box::new(Grpc(s)))
}
