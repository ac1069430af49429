//! 50 time-skipping tests per server, for `scripts/bench-time-skipping.sh` (a benchmark, not
//! a check: built and run only when named, `--test fifty_skipping`). Each waits out 30 days of workflow time:
//! `server::*` per workflow on the shared stack, `test_server::*` on a Java test server each.

use std::time::Duration;
use temporal_harness::{temporal_test, TestRunner};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

/// Waits 30 days.
#[workflow]
#[derive(Default)]
pub struct MonthWorkflow;

#[workflow_methods]
impl MonthWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<()> {
        ctx.timer(Duration::from_secs(30 * 86_400)).await;
        Ok(())
    }
}

macro_rules! fifty {
    ($mode:literal, $($case:ident),*) => {$(
        #[temporal_test(workflows(MonthWorkflow), time_skipping = $mode)]
        async fn $case(runner: TestRunner) {
            runner.execute(MonthWorkflow::run, ()).await.expect("30 days pass");
        }
    )*};
}

mod server {
    use super::*;
    fifty!(
        "server", t01, t02, t03, t04, t05, t06, t07, t08, t09, t10, t11, t12, t13, t14, t15, t16,
        t17, t18, t19, t20, t21, t22, t23, t24, t25, t26, t27, t28, t29, t30, t31, t32, t33, t34,
        t35, t36, t37, t38, t39, t40, t41, t42, t43, t44, t45, t46, t47, t48, t49, t50
    );
}

mod test_server {
    use super::*;
    fifty!(
        "test-server",
        t01,
        t02,
        t03,
        t04,
        t05,
        t06,
        t07,
        t08,
        t09,
        t10,
        t11,
        t12,
        t13,
        t14,
        t15,
        t16,
        t17,
        t18,
        t19,
        t20,
        t21,
        t22,
        t23,
        t24,
        t25,
        t26,
        t27,
        t28,
        t29,
        t30,
        t31,
        t32,
        t33,
        t34,
        t35,
        t36,
        t37,
        t38,
        t39,
        t40,
        t41,
        t42,
        t43,
        t44,
        t45,
        t46,
        t47,
        t48,
        t49,
        t50
    );
}
