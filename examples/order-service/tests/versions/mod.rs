//! The next version of `OrderWorkflow`, three ways, for the replay gate, the upgrade matrix
//! and the rollouts: a compatible change (a new query), an incompatible one (an audit
//! activity before the reservation), and the same change behind `patched()`; and the payment
//! provider these tests run the versions with.

use order_service::{OrderActivities, Payments};
use std::sync::Arc;

/// A payment provider that approves every charge.
pub struct Approving;

impl Payments for Approving {
    fn charge(&self, order: &str, _cents: u32) -> Result<String, String> {
        Ok(format!("receipt-{order}"))
    }
}

/// The order activities, paid by [`Approving`].
pub fn activities() -> OrderActivities {
    OrderActivities {
        payments: Arc::new(Approving),
    }
}

/// The audit step the next version adds.
pub struct Audit;

#[temporalio_macros::activities]
impl Audit {
    /// Records that the order was seen.
    #[activity]
    pub async fn record(
        _ctx: temporalio_sdk::activities::ActivityContext,
        order_id: String,
    ) -> Result<String, temporalio_sdk::activities::ActivityError> {
        Ok(format!("audited-{order_id}"))
    }
}

/// The versions, each a workflow type named `OrderWorkflow` like the one in the histories.
macro_rules! order_workflow_version {
    ($module:ident, |$ctx:ident, $order:ident| { $($before:tt)* }) => {
        pub mod $module {
            use order_service::{Order, OrderActivities, Status};
            use std::time::Duration;
            use temporalio_macros::{workflow, workflow_methods};
            use temporalio_sdk::{
                ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView,
                WorkflowResult,
            };

            #[workflow]
            #[derive(Default)]
            pub struct OrderWorkflow {
                approved: bool,
                status: Option<Status>,
            }

            fn options() -> ActivityOptions {
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10))
            }

            #[workflow_methods]
            impl OrderWorkflow {
                #[run]
                pub async fn run(
                    $ctx: &mut WorkflowContext<Self>,
                    $order: Order,
                ) -> WorkflowResult<String> {
                    $($before)*
                    $ctx.execute_activity(OrderActivities::reserve, $order.id.clone(), options())
                        .await?;
                    $ctx.state_mut(|s| s.status = Some(Status::AwaitingApproval));
                    let mut approval = $ctx.wait_condition(|s| s.approved);
                    let mut timeout =
                        $ctx.timer(Duration::from_secs($order.approval_timeout_secs));
                    let approved = temporalio_workflow::workflows::select! {
                        _ = approval => true,
                        _ = timeout => false,
                    };
                    if !approved {
                        $ctx.state_mut(|s| s.status = Some(Status::Cancelled));
                        return Ok("cancelled".into());
                    }
                    let receipt = $ctx
                        .execute_activity(OrderActivities::charge, $order, options())
                        .await?;
                    $ctx.state_mut(|s| s.status = Some(Status::Completed));
                    Ok(receipt)
                }

                #[signal]
                pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _unit: ()) {
                    self.approved = true;
                }

                #[query]
                pub fn status(&self, _ctx: &WorkflowContextView) -> Option<Status> {
                    self.status
                }

                /// New in this version: a query changes no command.
                #[query]
                pub fn is_approved(&self, _ctx: &WorkflowContextView) -> bool {
                    self.approved
                }
            }
        }
    };
}

order_workflow_version!(compatible, |ctx, order| {});
order_workflow_version!(incompatible, |ctx, order| {
    ctx.execute_activity(super::Audit::record, order.id.clone(), options())
        .await?;
});
order_workflow_version!(patched, |ctx, order| {
    if ctx.patched("audit-before-reserve") {
        ctx.execute_activity(super::Audit::record, order.id.clone(), options())
            .await?;
    }
});
