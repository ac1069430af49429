//! Connecting to a Temporal frontend: plaintext, TLS (optionally mutual) or API key.

use super::{StackError, TemporalError};
use crate::config::TlsFiles;
use crate::error::BoxError;
use crate::secret::Secret;
use std::path::Path;
use std::time::Duration;
use temporalio_client::errors::ClientConnectError;
use temporalio_client::{
    tonic, ClientTlsOptions, Connection, ConnectionOptions, GrpcCompression, RetryOptions,
    TlsOptions, Url,
};

/// How to reach a Temporal frontend.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TemporalTarget {
    /// `host:port` of the frontend.
    pub address: String,
    /// TLS settings; `None` is plaintext (unless an API key turns TLS on).
    pub tls: Option<TlsFiles>,
    /// API key sent as a bearer token.
    pub api_key: Option<Secret>,
}

impl TemporalTarget {
    /// A plaintext frontend at `address`.
    pub fn plain(address: impl Into<String>) -> Self {
        TemporalTarget {
            address: address.into(),
            tls: None,
            api_key: None,
        }
    }

    /// Whether the connection uses TLS: TLS settings or an API key (sent only over TLS).
    pub fn uses_tls(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsFiles::is_set) || self.api_key.is_some()
    }

    /// The URL the SDK connects to.
    pub fn url(&self) -> Result<Url, StackError> {
        let scheme = if self.uses_tls() { "https" } else { "http" };
        Url::parse(&format!("{scheme}://{}", self.address)).map_err(|e| {
            StackError::Temporal(TemporalError::Unreachable {
                address: self.address.clone(),
                source: format!("not a host:port address ({e})").into(),
            })
        })
    }

    /// The TLS the connection uses, checking that every TLS file named can be read (a clear
    /// error before any network I/O). An API key implies TLS: without TLS files, the system's
    /// root certificates verify the server (as Temporal Cloud needs); a CA file replaces them.
    pub fn tls_options(&self) -> Result<Option<TlsOptions>, StackError> {
        Ok(self.tls_pems()?.map(|pems| {
            let client = pems.client.map(|(client_cert, client_private_key)| {
                ClientTlsOptions::builder()
                    .client_cert(client_cert)
                    .client_private_key(client_private_key)
                    .build()
            });
            TlsOptions::builder()
                .maybe_server_root_ca_cert(pems.ca)
                .maybe_domain(pems.server_name)
                .maybe_client_tls_options(client)
                .build()
        }))
    }

    /// The TLS files' contents, read and checked; `None` for plaintext. One reading for every
    /// client the harness opens (the SDK's, and validation's own gRPC and TLS probes).
    pub fn tls_pems(&self) -> Result<Option<TlsPems>, StackError> {
        let Some(tls) = self.tls.as_ref().filter(|t| t.is_set()) else {
            return Ok(self.api_key.is_some().then(TlsPems::default));
        };
        let ca = read_pem(
            tls.ca.as_deref(),
            "CA",
            "TEMPORAL_HARNESS_TLS_CA (or [external] tls_ca)",
        )?;
        let cert = read_pem(
            tls.cert.as_deref(),
            "certificate",
            "TEMPORAL_HARNESS_TLS_CERT (or [external] tls_cert)",
        )?;
        let key = read_pem(
            tls.key.as_deref(),
            "key",
            "TEMPORAL_HARNESS_TLS_KEY (or [external] tls_key)",
        )?;
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(StackError::Temporal(TemporalError::TlsFile {
                    what: "key",
                    path: tls.key.clone().or(tls.cert.clone()).unwrap_or_default(),
                    source: "mutual TLS needs both a certificate and its key".into(),
                    env: "TEMPORAL_HARNESS_TLS_CERT and TEMPORAL_HARNESS_TLS_KEY (or [external] tls_cert \
                          and tls_key)",
                }))
            }
        };
        Ok(Some(TlsPems {
            ca,
            client,
            server_name: tls.server_name.clone(),
        }))
    }

    /// The error for a status that refuses this connection's credentials (`UNAUTHENTICATED`,
    /// `PERMISSION_DENIED`), which no retry can change; `None` for any other status.
    pub(crate) fn refused(&self, status: &tonic::Status) -> Option<StackError> {
        use tonic::Code;
        if !matches!(
            status.code(),
            Code::Unauthenticated | Code::PermissionDenied
        ) {
            return None;
        }
        let has_certificate = self.tls.as_ref().is_some_and(|t| t.cert.is_some());
        let sent = match (self.api_key.is_some(), has_certificate) {
            (true, true) => "an API key and a client certificate",
            (true, false) => "an API key",
            (false, true) => "a client certificate",
            (false, false) => "neither an API key nor a client certificate",
        };
        let message = match &self.api_key {
            Some(key) => crate::secret::scrub(status.message(), key),
            None => status.message().to_string(),
        };
        Some(StackError::Temporal(TemporalError::Refused {
            address: self.address.clone(),
            sent,
            message: format!("{:?}: {message}", status.code()),
        }))
    }

    /// The host part of the address (what the server's certificate must name, unless a
    /// server name is configured).
    pub fn host(&self) -> &str {
        let address = self.address.as_str();
        match address.rsplit_once(':') {
            Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => address,
        }
    }
}

/// A frontend's TLS material, read from the files a [`TlsFiles`] names.
#[derive(Default, Clone)]
pub struct TlsPems {
    /// CA certificate(s) that verify the server; `None`: the system's roots.
    pub ca: Option<Vec<u8>>,
    /// Client certificate and key for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
    /// Name to verify the server's certificate against, instead of the address's host.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for TlsPems {
    // The client key is a secret: only say whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPems")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

fn read_pem(
    path: Option<&Path>,
    what: &'static str,
    env: &'static str,
) -> Result<Option<Vec<u8>>, StackError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|e| {
        StackError::Temporal(TemporalError::TlsFile {
            what,
            path: path.into(),
            source: e.into(),
            env,
        })
    })?;
    if !bytes.starts_with(b"-----BEGIN") && !String::from_utf8_lossy(&bytes).contains("-----BEGIN")
    {
        return Err(StackError::Temporal(TemporalError::TlsFile {
            what,
            path: path.into(),
            source: "not a PEM file (no -----BEGIN line)".into(),
            env,
        }));
    }
    Ok(Some(bytes))
}

/// Opens a connection to `target`, failing within `timeout` with the cause named.
pub async fn connect(target: &TemporalTarget, timeout: Duration) -> Result<Connection, StackError> {
    let options = ConnectionOptions::new(target.url()?)
        .identity(format!("temporal-harness@{}", std::process::id()))
        .maybe_tls_options(target.tls_options()?)
        .maybe_api_key(target.api_key.as_ref().map(|k| k.expose().to_string()))
        .connect_timeout(timeout)
        // The SDK gzips every request and response by default. A test's messages are small
        // (a few KB, also to a deployment far away): gzip only spends CPU on both ends. 100
        // tests on a running local stack, 4 interleaved rounds: 3.8-4.5 s against 4.0-5.2 s
        // with gzip (the server's CPU per test 38-49 ms against 44-57 ms).
        .grpc_compression(GrpcCompression::None)
        // Fail fast: callers that wait for readiness retry on their own schedule.
        .retry_options(RetryOptions::builder().max_retries(0).build())
        .build();
    let unreachable = |source: BoxError| {
        StackError::Temporal(TemporalError::Unreachable {
            address: target.address.clone(),
            source,
        })
    };
    match tokio::time::timeout(timeout, Connection::connect(options)).await {
        Ok(Ok(connection)) => Ok(connection),
        // rustls read a record that is not TLS: the server speaks plaintext.
        Ok(Err(e)) if target.uses_tls() && format!("{e:?}").contains("InvalidContentType") => {
            Err(StackError::Temporal(TemporalError::TlsToPlaintext {
                address: target.address.clone(),
                why: if target.api_key.is_some() {
                    "an API key is set"
                } else {
                    "TLS settings are given"
                },
            }))
        }
        Ok(Err(e)) => Err(match &e {
            ClientConnectError::SystemInfoCallError(status) => target.refused(status),
            _ => None,
        }
        .unwrap_or_else(|| {
            unreachable(Box::new(ConnectFailure {
                plain: plain_reason(&e.to_string()),
                source: e,
            }))
        })),
        Err(_) => Err(unreachable(format!("no answer within {timeout:?}").into())),
    }
}

/// A failed connection in words people read, keeping the SDK's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{plain}")]
struct ConnectFailure {
    plain: String,
    #[source]
    source: ClientConnectError,
}

/// The SDK reports transport failures as nested `Debug` output; people need the cause.
fn plain_reason(raw: &str) -> String {
    let known = [
        (
            "Connection refused",
            "connection refused: nothing listens there (is the server running?)",
        ),
        ("dns error", "the host name does not resolve"),
        ("No route to host", "no route to host"),
        (
            "InvalidCertificate",
            "the server's TLS certificate is not trusted (check --tls-ca / the server name)",
        ),
        (
            "UnknownIssuer",
            "the server's TLS certificate is not trusted (check --tls-ca / the server name)",
        ),
    ];
    known
        .iter()
        .find(|(needle, _)| raw.contains(needle))
        .map(|(_, plain)| plain.to_string())
        .unwrap_or_else(|| raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn unreadable_and_non_pem_tls_files_are_named() {
        let target = TemporalTarget {
            tls: Some(TlsFiles {
                ca: Some(PathBuf::from("/nonexistent/ca.pem")),
                ..TlsFiles::default()
            }),
            ..TemporalTarget::plain("h:1")
        };
        let msg = target.tls_options().err().unwrap().to_string();
        assert!(
            msg.contains("/nonexistent/ca.pem") && msg.contains("TEMPORAL_HARNESS_TLS_CA"),
            "{msg}"
        );

        let not_pem = std::env::temp_dir().join(format!("th-not-pem-{}", std::process::id()));
        std::fs::write(&not_pem, "hello").unwrap();
        let target = TemporalTarget {
            tls: Some(TlsFiles {
                ca: Some(not_pem.clone()),
                ..TlsFiles::default()
            }),
            ..TemporalTarget::plain("h:1")
        };
        let msg = target.tls_options().err().unwrap().to_string();
        assert!(msg.contains("not a PEM file"), "{msg}");
        std::fs::remove_file(not_pem).unwrap();
    }

    #[test]
    fn transport_errors_read_plainly() {
        let raw = r#"Server connection error: tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))"#;
        assert!(plain_reason(raw).starts_with("connection refused"));
        assert_eq!(plain_reason("something new"), "something new");
    }

    #[test]
    fn refused_credentials_say_what_was_sent_and_never_the_key() {
        let target = TemporalTarget {
            api_key: Some(Secret::new("sekrit")),
            ..TemporalTarget::plain("ns.tmprl.cloud:7233")
        };
        let echo = tonic::Status::unauthenticated("bad key sekrit");
        let msg = target.refused(&echo).unwrap().to_string();
        assert!(
            msg.contains("refused the credentials (an API key)"),
            "{msg}"
        );
        assert!(msg.contains("Unauthenticated: bad key ***"), "{msg}");
        assert!(msg.contains("Fix: give a key"), "{msg}");
        let denied = tonic::Status::permission_denied("no");
        let plain = TemporalTarget::plain("h:1").refused(&denied).unwrap();
        assert!(plain.to_string().contains("(neither an API key nor"));
        assert!(target
            .refused(&tonic::Status::unavailable("down"))
            .is_none());
    }

    #[test]
    fn api_key_turns_tls_on_and_stays_out_of_debug() {
        let target = TemporalTarget {
            api_key: Some(Secret::new("sekrit")),
            ..TemporalTarget::plain("ns.tmprl.cloud:7233")
        };
        assert_eq!(target.url().unwrap().scheme(), "https");
        assert!(!format!("{target:?}").contains("sekrit"));
    }

    #[tokio::test]
    async fn an_api_key_alone_connects_over_tls_with_the_system_roots() {
        let target = TemporalTarget {
            api_key: Some(Secret::new("sekrit")),
            ..TemporalTarget::plain("127.0.0.1:1")
        };
        assert!(target.tls_options().unwrap().is_some(), "TLS is on");
        // A server that closes every connection: the TLS handshake is attempted (before,
        // the SDK refused at once with `HttpsUriWithoutTlsSupport`).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                drop(stream);
            }
        });
        let target = TemporalTarget { address, ..target };
        let err = connect(&target, Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("HttpsUriWithoutTlsSupport"), "{err}");
        assert!(!err.contains("sekrit"), "{err}");
    }
}
