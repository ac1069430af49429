//! Why a stack could not be had: each variant names the cause and the fix.

use crate::config::ConfigError;
use crate::error::BoxError;
use std::path::PathBuf;
use std::time::Duration;

/// A stack that could not be booted, reached, shared or controlled: one variant per
/// subsystem, each an enum of its own whose variants name the cause and the fix. Match on
/// the variants (`StackError::Postgres(PostgresError::WrongPassword { .. })`), never on text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// Docker: the daemon, images and the PostgreSQL template image.
    #[error(transparent)]
    Docker(#[from] DockerError),

    /// PostgreSQL: reaching it, its credentials, its schema.
    #[error(transparent)]
    Postgres(#[from] PostgresError),

    /// The Temporal frontend: reaching it, TLS, the namespace.
    #[error(transparent)]
    Temporal(#[from] TemporalError),

    /// The programs the harness runs: found, and trusted.
    #[error(transparent)]
    Tools(#[from] ToolsError),

    /// Booting a stack: ports, services starting, readiness in time, backend choice.
    #[error(transparent)]
    Boot(#[from] BootError),

    /// The shared stack's on-disk state: its folder, its lock, kept stacks.
    #[error(transparent)]
    State(#[from] StateError),

    /// Controlling a running stack (fault injection: restarts, outages, node faults, failover).
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// Docker: the daemon, images and the PostgreSQL template image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// No Docker daemon answered.
    #[error(
        "Docker is not reachable: {source}. Fix: start Docker (`temporal-harness setup` starts \
         dockerd on Debian; elsewhere `systemctl start docker`), or use processes instead with \
         TEMPORAL_HARNESS_BACKEND=local"
    )]
    Unreachable {
        /// What the Docker client said.
        #[source]
        source: BoxError,
    },

    /// An image is neither present nor pullable.
    #[error(
        "image {image} is not present and could not be pulled: {source}. Fix: with a registry, \
         `docker pull {image}`; without one, run `temporal-harness setup` to build the local images \
         and set TEMPORAL_HARNESS_IMAGES=local (or leave it at auto)"
    )]
    ImageMissing {
        /// The image reference.
        image: String,
        /// What Docker said.
        #[source]
        source: BoxError,
    },

    /// PostgreSQL did not come up from its template image (see `containers::template`).
    #[error(
        "PostgreSQL did not come up from its template image {image}: {source}. Fix: remove the \
         template (`docker rmi {image}`); the next boot makes it again"
    )]
    TemplateUnusable {
        /// The template image.
        image: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
}

/// PostgreSQL: reaching it, its credentials, its schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// PostgreSQL refused the credentials.
    #[error(
        "PostgreSQL at {url} rejected the password of user {user}. Fix: correct the password \
         in the PostgreSQL URL (TEMPORAL_HARNESS_POSTGRES_URL or --postgres-url)"
    )]
    WrongPassword {
        /// The URL, password redacted.
        url: String,
        /// The user.
        user: String,
    },

    /// PostgreSQL could not be reached at all.
    #[error(
        "PostgreSQL at {url} is unreachable: {source}. Fix: check host and port, and that the \
         server accepts TCP connections (listen_addresses, pg_hba.conf)"
    )]
    Unreachable {
        /// The URL, password redacted.
        url: String,
        /// What the driver said, scrubbed of the URL's secrets (so a message, not the driver's
        /// error, which may quote them).
        #[source]
        source: BoxError,
    },

    /// A Temporal database's schema is older than the server needs.
    #[error(
        "the {database} database's schema is at version {found}, but the server needs \
         {expected}. Fix: upgrade it with `temporal-sql-tool --plugin postgres12 --db {database} \
         update-schema --schema-name postgresql/v12/{kind}` (see docs/deployment.md)"
    )]
    SchemaTooOld {
        /// `temporal` or `temporal_visibility`.
        database: String,
        /// `temporal` or `visibility`.
        kind: &'static str,
        /// The version found in `schema_version`.
        found: String,
        /// The version the server expects.
        expected: String,
    },
}

/// The Temporal frontend: reaching it, TLS, the namespace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemporalError {
    /// The Temporal frontend could not be reached.
    #[error(
        "Temporal at {address} is unreachable: {source}. Fix: check the address and that the \
         server runs (`temporal operator cluster health --address {address}`)"
    )]
    Unreachable {
        /// `host:port`.
        address: String,
        /// What the client said.
        #[source]
        source: BoxError,
    },

    /// The connection uses TLS (TLS settings or an API key), but the server answered in
    /// plaintext: a problem of the client's settings, not of the deployment.
    #[error(
        "Temporal at {address} answered in plaintext, but this connection uses TLS ({why}). Fix: \
         use the address of the server's TLS listener, or leave out the TLS settings and the \
         API key for a plaintext server (an API key is only ever sent over TLS)"
    )]
    TlsToPlaintext {
        /// `host:port`.
        address: String,
        /// What turned TLS on.
        why: &'static str,
    },

    /// A TLS file could not be read.
    #[error(
        "cannot read the TLS {what} file {path}: {source}. Fix: point {env} at a readable PEM \
         file"
    )]
    TlsFile {
        /// `CA`, `certificate` or `key`.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// The OS error, or what is wrong with the file's content.
        #[source]
        source: BoxError,
        /// The setting that names it.
        env: &'static str,
    },

    /// The namespace does not exist on a deployment the harness does not own.
    #[error(
        "namespace {namespace} does not exist on {address}. Fix: create it (`temporal operator \
         namespace create --namespace {namespace} --address {address}`) or set \
         TEMPORAL_HARNESS_NAMESPACE to an existing one"
    )]
    UnknownNamespace {
        /// The namespace.
        namespace: String,
        /// The frontend.
        address: String,
    },

    /// The frontend refused the connection's credentials (gRPC `UNAUTHENTICATED` or
    /// `PERMISSION_DENIED`): asking again cannot help, so the harness does not retry.
    #[error(
        "Temporal at {address} refused the credentials ({sent}): {message}. Fix: give a key \
         this deployment accepts (TEMPORAL_HARNESS_API_KEY, [external] api_key, or the CLI's \
         --api-key-env) or a client certificate it trusts (TEMPORAL_HARNESS_TLS_CERT and \
         TEMPORAL_HARNESS_TLS_KEY, or --tls-cert and --tls-key)"
    )]
    Refused {
        /// `host:port`.
        address: String,
        /// What the connection sent: an API key, a client certificate, or neither.
        sent: &'static str,
        /// What the server said, with the key scrubbed out.
        message: String,
    },
}

/// The programs the harness runs: found, and trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolsError {
    /// A binary of the local backend is missing.
    #[error(
        "{name} not found (looked in {looked}). Fix: run `temporal-harness setup` (installs \
         it into the per-user tools folder), or set TEMPORAL_HARNESS_TOOLS_DIR to the folder \
         that has it"
    )]
    MissingBinary {
        /// The binary.
        name: String,
        /// Where the harness looked.
        looked: String,
    },

    /// A system program the harness runs (`sh`, `flock`) is in no folder on `PATH` that
    /// only its owner can write to.
    #[error(
        "{name} not found in a folder on PATH that only you or root can write to (folders \
         others can write to are never searched: a program planted there would run as you). \
         Fix: install {name} (Debian: {package}) or put its folder, made private, on PATH"
    )]
    MissingSystemProgram {
        /// The program.
        name: String,
        /// The Debian package that has it.
        package: &'static str,
    },

    /// A file the harness would run or trust can be changed by someone else.
    #[error(
        "refusing to use {}: it {reason}. Fix: `chmod go-w` it and make it yours, or point \
         TEMPORAL_HARNESS_TOOLS_DIR / TEMPORAL_HARNESS_STATE_DIR at a folder only you can write",
        path.display()
    )]
    UntrustedPath {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file installed with the tools does not have the shape the pinned server's has.
    #[error(
        "{} does not have the shape this harness expects ({expected}): it is from another \
         server version than the pinned one. Fix: run `temporal-harness setup` again to \
         install the pinned server's",
        path.display()
    )]
    UnexpectedFile {
        /// The file.
        path: PathBuf,
        /// What the harness looks for in it.
        expected: &'static str,
    },
}

/// Booting a stack: ports, services starting, readiness in time, backend choice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// A port the stack needs is taken.
    #[error(
        "port {port} is already in use, needed by {service}. Fix: stop the process listening \
         on {port} (`ss -ltnp | grep :{port}`) or let the harness pick a free port"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// What needed it.
        service: String,
    },

    /// The local backend could not reserve the ports its processes listen on.
    #[error(
        "cannot reserve {wanted} free port(s) on 127.0.0.1: {source}. Fix: free ports on \
         127.0.0.1 (`ss -ltn` lists the listeners), or run the stack in containers \
         (TEMPORAL_HARNESS_BACKEND=containers)"
    )]
    NoFreePorts {
        /// How many ports were needed.
        wanted: usize,
        /// Why they could not be had.
        #[source]
        source: BoxError,
    },

    /// A service did not become ready in time.
    #[error(
        "{service} did not become ready within {timeout:?}: {last}. Fix: read {log}; raise \
         TEMPORAL_HARNESS_STARTUP_TIMEOUT if the machine is just slow"
    )]
    StartupTimeout {
        /// The service.
        service: String,
        /// The bound.
        timeout: Duration,
        /// The last error seen while waiting.
        #[source]
        last: BoxError,
        /// Where its log is.
        log: String,
    },

    /// A service failed to start (exited, or Docker refused it).
    #[error("{service} failed to start: {source}")]
    ServiceFailed {
        /// The service.
        service: String,
        /// Why, with the tail of its log where there is one.
        #[source]
        source: BoxError,
    },

    /// `auto` found neither Docker nor the local binaries.
    #[error(
        "no backend can run: Docker: {docker}; local: {local}. Fix: run `temporal-harness setup` \
         (it installs Docker and the Temporal binaries), or point the harness at a deployment \
         with TEMPORAL_HARNESS_BACKEND=external TEMPORAL_HARNESS_ADDRESS=host:port"
    )]
    NoBackend {
        /// Why Docker cannot be used.
        #[source]
        docker: Box<StackError>,
        /// Why the local backend cannot be used.
        local: Box<StackError>,
    },
}

/// The shared stack's on-disk state: its folder, its lock, kept stacks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file or folder of the shared stack's state could not be read, written or used
    /// (its folder, lock, leases, records, keeper).
    #[error("shared stack state at {path}: {source}")]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What failed: the I/O error itself where there is one.
        #[source]
        source: BoxError,
    },

    /// A stack kept with `keep` did not answer: it is reported, never replaced (its data is
    /// the user's).
    #[error(
        "the kept stack in {} did not answer within {waited:?}: {}. Fix: wait and rerun \
         if it is still starting, or remove it with `temporal-harness down` (its data goes \
         with it)",
        path.display(),
        cause_only(source)
    )]
    KeptStackUnhealthy {
        /// Its state folder.
        path: PathBuf,
        /// How long it was waited for.
        waited: Duration,
        /// The last error seen (shown without its own fix: this error gives the one that
        /// applies).
        #[source]
        source: BoxError,
    },

    /// A stack kept with `keep` is visibly not running (its containers removed, paused or
    /// stopped; its processes gone or stopped): reported at once, never replaced.
    #[error(
        "the kept stack in {} is not running: {cause}. Fix: {fix} (`temporal-harness down` \
         removes it, its data with it)",
        path.display()
    )]
    KeptStackDown {
        /// Its state folder.
        path: PathBuf,
        /// What is wrong.
        cause: String,
        /// What brings it back.
        fix: String,
    },

    /// Another process held the stack's lock for longer than the startup timeout.
    #[error(
        "waited {timeout:?} for another process to finish booting the stack (lock {lock}). \
         Fix: if no test run is active, remove the lock file; raise \
         TEMPORAL_HARNESS_STARTUP_TIMEOUT if boots are just slow"
    )]
    LockTimeout {
        /// How long it waited.
        timeout: Duration,
        /// The lock file.
        lock: PathBuf,
    },
}

/// Controlling a running stack (fault injection: restarts, outages, node faults, failover).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Fault injection asked for control this kind of stack cannot give.
    #[error("cannot {action}: {source}. Fix: {needs}")]
    NotControllable {
        /// What was asked (`restart the Temporal server`).
        action: String,
        /// Why this stack cannot do it.
        #[source]
        source: BoxError,
        /// The stack that can, and how to get one.
        needs: &'static str,
    },

    /// A control operation (a restart, an outage, a node fault, a failover) failed on a stack
    /// that supports it.
    #[error("could not {action}: {source}. Fix: {fix}")]
    Failed {
        /// What was being done (`pause PostgreSQL (container temporal-harness-...)`).
        action: String,
        /// What failed.
        #[source]
        source: BoxError,
        /// What to look at, for the backend it happened on.
        fix: String,
    },
}

impl StackError {
    /// A boot step that ran out of the startup budget: reported as a startup timeout, which
    /// names the setting to raise, instead of as the last connection error alone. Errors that
    /// waiting cannot fix pass through unchanged.
    pub(crate) fn at_startup_deadline(self, service: &str, timeout: Duration, log: &str) -> Self {
        match self {
            StackError::Temporal(TemporalError::Unreachable { .. })
            | StackError::Postgres(PostgresError::Unreachable { .. }) => {
                BootError::StartupTimeout {
                    service: service.to_string(),
                    timeout,
                    last: Box::new(self),
                    log: log.to_string(),
                }
                .into()
            }
            other => other,
        }
    }

    /// A state-folder operation on `path` that failed: the I/O or serialisation error as it
    /// came, or what the harness noticed.
    pub(crate) fn state(path: impl Into<PathBuf>, source: impl Into<BoxError>) -> Self {
        StateError::File {
            path: path.into(),
            source: source.into(),
        }
        .into()
    }
}

/// An error's text without its own `Fix:` clause, for an error that wraps it and gives the
/// fix that applies.
pub(crate) fn cause_only(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.split(". Fix:").next().unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_subsystem_error_shows_as_itself_and_keeps_its_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let err = StackError::state("/s/k.lock", io);
        assert!(matches!(err, StackError::State(StateError::File { .. })));
        assert_eq!(err.to_string(), "shared stack state at /s/k.lock: denied");
        let source = err.source().expect("the I/O error is the source");
        let io = source.downcast_ref::<std::io::Error>().expect("as it came");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn only_waiting_errors_become_startup_timeouts() {
        let unreachable = StackError::from(TemporalError::Unreachable {
            address: "127.0.0.1:1".into(),
            source: "connection refused".into(),
        });
        let timed_out = unreachable.at_startup_deadline("Temporal server", Duration::ZERO, "log");
        assert!(
            matches!(&timed_out, StackError::Boot(BootError::StartupTimeout { service, .. }) if service == "Temporal server"),
            "{timed_out}"
        );
        let wrong = StackError::from(PostgresError::WrongPassword {
            url: "postgres://u@h/db".into(),
            user: "u".into(),
        });
        let kept = wrong.at_startup_deadline("PostgreSQL", Duration::ZERO, "log");
        assert!(matches!(
            kept,
            StackError::Postgres(PostgresError::WrongPassword { .. })
        ));
    }
}
