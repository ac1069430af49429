//! An order service's workflow: reserve stock, wait for approval (a signal) or time out,
//! charge, and report its status to queries along the way.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

/// What the workflow is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order ID.
    pub id: String,
    /// Amount to charge, in cents.
    pub cents: u32,
    /// How long to wait for approval before cancelling, in seconds.
    pub approval_timeout_secs: u64,
}

/// Where the order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Stock reserved, waiting for approval.
    AwaitingApproval,
    /// Approved and charged.
    Completed,
    /// Not approved in time.
    Cancelled,
}

/// The payment provider the charge activity calls.
pub trait Payments: Send + Sync + 'static {
    /// Charges `cents` for `order`; returns a receipt.
    fn charge(&self, order: &str, cents: u32) -> Result<String, String>;
}

/// The service's activities, over a payment provider.
pub struct OrderActivities {
    /// The provider (a real client in production, a fake in tests).
    pub payments: Arc<dyn Payments>,
}

#[activities]
impl OrderActivities {
    /// Reserves stock for the order.
    #[activity]
    pub async fn reserve(_ctx: ActivityContext, order_id: String) -> Result<String, ActivityError> {
        Ok(format!("reservation-{order_id}"))
    }

    /// Charges the order through the payment provider.
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        order: Order,
    ) -> Result<String, ActivityError> {
        self.payments
            .charge(&order.id, order.cents)
            .map_err(|e| anyhow::anyhow!("payment refused: {e}").into())
    }
}

/// The order workflow.
#[workflow]
#[derive(Default)]
pub struct OrderWorkflow {
    approved: bool,
    status: Option<Status>,
}

fn options() -> ActivityOptions {
    let mut options = ActivityOptions::start_to_close_timeout(Duration::from_secs(10));
    options.retry_policy = Some(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(100))
            .backoff_coefficient(2.0)
            .maximum_attempts(3)
            .build(),
    );
    options
}

#[workflow_methods]
impl OrderWorkflow {
    /// Runs the order; returns the receipt, or "cancelled".
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, order: Order) -> WorkflowResult<String> {
        ctx.execute_activity(OrderActivities::reserve, order.id.clone(), options())
            .await?;
        ctx.state_mut(|s| s.status = Some(Status::AwaitingApproval));
        let mut approval = ctx.wait_condition(|s| s.approved);
        let mut timeout = ctx.timer(Duration::from_secs(order.approval_timeout_secs));
        let approved = temporalio_workflow::workflows::select! {
            _ = approval => true,
            _ = timeout => false,
        };
        if !approved {
            ctx.state_mut(|s| s.status = Some(Status::Cancelled));
            return Ok("cancelled".into());
        }
        let receipt = ctx
            .execute_activity(OrderActivities::charge, order, options())
            .await?;
        ctx.state_mut(|s| s.status = Some(Status::Completed));
        Ok(receipt)
    }

    /// Approves the order.
    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
        self.approved = true;
    }

    /// Where the order is (`None` before stock is reserved).
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Option<Status> {
        self.status
    }
}
