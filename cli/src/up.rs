//! `temporal-harness up`: a stack for local development (and the README's main job, with
//! `--once`, until the validation suite replaces it).

use super::choice;
use std::time::Duration;
use temporal_harness::config::{BackendKind, Flavor, Topology};
use temporal_harness::exit_codes;
use temporal_harness::{Stack, StackConfig};

/// Arguments of `up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where to run it (default: TEMPORAL_HARNESS_BACKEND, else auto).
    #[arg(long, value_parser = choice::<BackendKind>())]
    backend: Option<BackendKind>,
    /// Temporal on PostgreSQL, or the CLI dev server alone.
    #[arg(long, value_parser = choice::<Flavor>())]
    flavor: Option<Flavor>,
    /// `single` (one server process) or `cluster` (a process per service, two history
    /// hosts; local backend, PostgreSQL flavour).
    #[arg(long, value_parser = choice::<Topology>())]
    topology: Option<Topology>,
    /// Host port of the Temporal frontend (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Keep the stack after exit, for later runs to reuse; `temporal-harness down` ends it.
    #[arg(long)]
    keep: bool,
    /// Boot, show that it is healthy, print the endpoints, tear down, exit.
    #[arg(long)]
    once: bool,
    /// Without the Temporal Web UI (on by default here; TEMPORAL_HARNESS_UI=0 does the same).
    #[arg(long)]
    no_ui: bool,
}

pub async fn run(mut config: StackConfig, args: UpArgs) -> i32 {
    if let Some(b) = args.backend {
        config.backend = b;
    }
    if let Some(f) = args.flavor {
        config.flavor = f;
    }
    if let Some(t) = args.topology {
        config.topology = t;
    }
    config.keep |= args.keep;
    // People run `up` to look at things: the UI is on unless they said otherwise.
    config.ui = Some(!args.no_ui && config.ui.unwrap_or(true));
    if args.port.is_some() {
        config.frontend_port = args.port;
    }
    // Installed before the boot, so a signal at any point of it, or later, is seen.
    let mut signals = match super::Signals::install() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let stack = match super::acquire_interruptibly(&config, &mut signals).await {
        Ok(stack) => stack,
        Err(code) => return code,
    };
    let mut summary = stack.endpoints().summary();
    if let Some(file) = stack.endpoints_file() {
        // The file has the usable URLs (with passwords); stdout never does.
        summary["endpoints_file"] = file.display().to_string().into();
    }
    outln!("{summary}");
    print_human(&stack);
    if !args.once {
        errln!("temporal-harness: up; Ctrl-C (SIGINT) or SIGTERM stops it");
        signals.recv().await;
    }
    match stack.shutdown(Duration::from_secs(30)).await {
        Ok(done) => {
            errln!("temporal-harness: {}", done.describe());
            exit_codes::SUCCESS
        }
        Err(e) => {
            errln!("error: teardown failed: {e}");
            exit_codes::CONFIG_ERROR
        }
    }
}

fn print_human(stack: &Stack) {
    let e = stack.endpoints();
    errln!(
        "temporal-harness: healthy: WorkflowService SERVING, namespace `{}` ready",
        e.namespace
    );
    errln!("  runs on     {}", e.description);
    errln!("  temporal    {}", e.temporal.address);
    if let Some(url) = &e.postgres_url {
        errln!("  postgres    {url}");
    }
    if let Some(url) = &e.app_db_url {
        errln!("  app db      {url}");
    }
    if let Some(url) = &e.http_url {
        errln!("  http api    {url}");
    }
    if let Some(url) = &e.ui_url {
        errln!("  web ui      {url}");
    }
}
