//! `temporal-harness`: boot a Temporal + PostgreSQL stack (`up`/`down`), validate a deployment
//! (`validate`), provision a machine (`setup`). Argument parsing and dispatch live here; each
//! command in its own module; exit codes in `temporal_harness::exit_codes`.

#![warn(missing_docs)]

#[macro_use]
mod output;
mod frontend;
mod histories;
mod scrub;
mod setup;
mod up;
mod validate;

use clap::{Parser, Subcommand};
use scrub::scrub_inputs;
use temporal_harness::exit_codes;
use temporal_harness::StackConfig;

/// Temporal test harness: real Temporal on real PostgreSQL, for tests and deployments.
#[derive(Debug, Parser)]
#[command(name = "temporal-harness", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Boot a stack; print its endpoints as one JSON line on stdout; stay up until
    /// SIGINT/SIGTERM, then clean up.
    Up(up::UpArgs),
    /// Run the deployment-validation checks against a deployment (or the embedded default
    /// stack) and report them; exit 0 all passed, 1 a check failed, 2 usage error.
    Validate(Box<validate::ValidateArgs>),
    /// Remove every stack kept with `up --keep` (or TEMPORAL_HARNESS_KEEP=1).
    Down,
    /// Workflow histories for the replay suite: `histories pull` downloads them from a
    /// deployment.
    Histories {
        #[command(subcommand)]
        command: histories::HistoriesCommand,
    },
    /// Provision this machine: Debian packages, a Docker daemon, the Temporal binaries (into
    /// the per-user tools folder, or TEMPORAL_HARNESS_TOOLS_DIR) and the local images.
    /// Idempotent. Not needed with a container registry and the official images.
    Setup(setup::SetupArgs),
}

/// A clap parser for one of the library's choice enums: the accepted names (shown in `--help`
/// and in errors) come from the enum itself, so they cannot drift from configuration.
fn choice<T>() -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr + strum::VariantNames + Clone + Send + Sync + 'static,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::VARIANTS).try_map(|name| name.parse::<T>())
}

fn main() {
    std::process::exit(output::finish(run()));
}

/// The command line as text (an argument that is not UTF-8 shown with U+FFFD: `args()`
/// would panic on it).
pub(crate) fn args_lossy() -> Vec<String> {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Parses arguments, runs the command, and returns the process exit code.
fn run() -> i32 {
    // Before clap, which reads some of them (`--postgres-url`'s variable) and would only say
    // "invalid UTF-8" without naming the variable.
    if let Some(key) = std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v))
        .find(|(k, v)| k.starts_with("TEMPORAL_HARNESS_") && v.to_str().is_none())
        .map(|(k, _)| k)
    {
        errln!(
            "error: {}",
            temporal_harness::config::ConfigError::NotUnicode { key }
        );
        return exit_codes::CONFIG_ERROR;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap quotes the offending argument: a URL with its password, when one was
            // given in the wrong place.
            let args = args_lossy();
            let rendered = scrub_inputs(&e.render().to_string(), args.iter().map(String::as_str));
            if e.use_stderr() {
                err!("{rendered}");
            } else {
                out!("{rendered}");
            }
            return if e.use_stderr() {
                exit_codes::CONFIG_ERROR
            } else {
                exit_codes::SUCCESS
            };
        }
    };
    let config = match StackConfig::load() {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return exit_codes::CONFIG_ERROR;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(config, args).await,
            Command::Validate(args) => validate::run(config, *args).await,
            Command::Down => down(&config),
            Command::Histories { command } => histories::run(command).await,
            // Waits for the provisioning script; nothing else runs on this runtime meanwhile.
            Command::Setup(args) => setup::run(&config, args),
        }
    })
}

/// SIGINT and SIGTERM, registered once per command: from then on neither kills the process;
/// each is seen by whoever awaits [`Signals::recv`].
struct Signals {
    sigint: tokio::signal::unix::Signal,
    sigterm: tokio::signal::unix::Signal,
    /// A closed terminal: the most common way a developer's `up` ends.
    sighup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, i32> {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(sigint), Ok(sigterm), Ok(sighup)) => Ok(Signals {
                sigint,
                sigterm,
                sighup,
            }),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                errln!("error: cannot install signal handlers: {e}");
                Err(exit_codes::CONFIG_ERROR)
            }
        }
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.sigint.recv() => "SIGINT",
            _ = self.sigterm.recv() => "SIGTERM",
            _ = self.sighup.recv() => "SIGHUP",
        }
    }
}

/// Acquires (boots, or reuses) the stack of `config`, giving up cleanly on SIGINT or SIGTERM:
/// the boot's future is dropped, which tears down whatever it had started, before this
/// returns. `Err(code)` is the exit code to end with (the reason already printed).
async fn acquire_interruptibly(
    config: &StackConfig,
    signals: &mut Signals,
) -> Result<temporal_harness::Stack, i32> {
    tokio::select! {
        stack = temporal_harness::Stack::acquire(config) => stack.map_err(|e| {
            errln!("error: {e}");
            exit_codes::CONFIG_ERROR
        }),
        name = signals.recv() => {
            errln!("temporal-harness: {name} during the boot; removed what it had started");
            Err(exit_codes::INTERRUPTED)
        }
    }
}

fn down(config: &StackConfig) -> i32 {
    match temporal_harness::stack::down(config) {
        Ok(removed) if removed.is_empty() => {
            errln!("temporal-harness: nothing to remove: no kept stacks, nothing left by runs");
            exit_codes::SUCCESS
        }
        Ok(removed) => {
            for what in removed {
                errln!("temporal-harness: removed {what}");
            }
            exit_codes::SUCCESS
        }
        Err(e) => {
            errln!("error: {e}");
            exit_codes::CONFIG_ERROR
        }
    }
}
