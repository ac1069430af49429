//! How the commands that talk to a deployment reach its frontend (`validate`, `histories
//! pull`): the TLS and API-key flags they share, and the target those flags make.

use std::path::PathBuf;
use temporal_harness::config::{parse_frontend_address, TlsFiles};
use temporal_harness::secret::Secret;
use temporal_harness::stack::{StackError, TemporalError, TemporalTarget};

/// TLS and API-key flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FrontendAuth {
    /// CA certificate (PEM) that signed the frontend's certificate.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Server name to verify the frontend's certificate against.
    #[arg(long)]
    tls_server_name: Option<String>,
    /// Name of the environment variable that holds the API key (the key never goes on the
    /// command line).
    #[arg(long)]
    api_key_env: Option<String>,
}

impl FrontendAuth {
    /// The flags given, by name (to refuse them where they would be ignored).
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.tls_ca.is_some(), "--tls-ca"),
            (self.tls_cert.is_some(), "--tls-cert"),
            (self.tls_key.is_some(), "--tls-key"),
            (self.tls_server_name.is_some(), "--tls-server-name"),
            (self.api_key_env.is_some(), "--api-key-env"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect()
    }

    /// The frontend at `address` (from --temporal-address) reached with these flags. A
    /// malformed address, unreadable or non-PEM TLS files and an unset API key variable are
    /// usage errors naming the flag, found before any network I/O.
    pub fn target(&self, address: &str) -> Result<TemporalTarget, String> {
        let address =
            parse_frontend_address("--temporal-address", address).map_err(|e| e.to_string())?;
        let api_key = match &self.api_key_env {
            Some(var) => Some(Secret::new(match std::env::var(var) {
                Ok(key) if !key.is_empty() => key,
                Ok(_) | Err(std::env::VarError::NotPresent) => {
                    return Err(format!(
                        "--api-key-env {var}: the variable is not set (or empty). Fix: export \
                         the API key in it"
                    ))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!(
                        "--api-key-env {var}: the variable's value is not UTF-8 text, so it \
                         cannot be an API key. Fix: export the key as it was issued"
                    ))
                }
            })),
            None => None,
        };
        let tls = TlsFiles {
            ca: self.tls_ca.clone(),
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
        };
        let temporal = TemporalTarget {
            address,
            tls: Some(tls).filter(TlsFiles::is_set),
            api_key,
        };
        temporal.tls_options().map_err(|e| match e {
            // The files came from flags: the fix names them, not the variables.
            StackError::Temporal(TemporalError::TlsFile { env, .. }) if env.contains(" and ") => {
                "--tls-cert and --tls-key go together: mutual TLS needs both a certificate \
                 and its key. Fix: give both, or neither"
                    .to_string()
            }
            StackError::Temporal(TemporalError::TlsFile {
                what, path, source, ..
            }) => {
                let flag = match what {
                    "CA" => "--tls-ca",
                    "certificate" => "--tls-cert",
                    _ => "--tls-key",
                };
                format!(
                    "{flag} {}: cannot read the TLS {what} file: {source}. Fix: point {flag} at \
                     a readable PEM file",
                    path.display()
                )
            }
            e => e.to_string(),
        })?;
        Ok(temporal)
    }
}
