//! The cause an error of the harness keeps: whatever the underlying library returned, or a
//! message where the harness is the one that noticed (or where the underlying text had to be
//! scrubbed of secrets, so the original error must not travel on).

/// The underlying error of a harness error, reachable through `Error::source()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the harness was doing when `source` happened, in front of it: `"{context}: {source}"`.
/// The underlying error stays reachable as the source.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub(crate) struct Context {
    context: String,
    source: BoxError,
}

/// `source` with `context` in front of it.
pub(crate) fn context(context: impl Into<String>, source: impl Into<BoxError>) -> BoxError {
    Box::new(Context {
        context: context.into(),
        source: source.into(),
    })
}

/// A gRPC status shown by its message and code (tonic's own `Display` adds details and
/// metadata people do not need). The status itself is kept: downcast the source to `Grpc`.
#[derive(Debug, thiserror::Error)]
#[error("{} ({:?})", .0.message(), .0.code())]
pub struct Grpc(pub tonic::Status);

impl From<tonic::Status> for Grpc {
    fn from(status: tonic::Status) -> Self {
        Grpc(status)
    }
}
