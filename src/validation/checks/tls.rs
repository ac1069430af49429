//! `temporal.tls_certificate`: the frontend's certificate chain verifies for the name clients
//! use, and does not expire soon.
//!
//! One TLS handshake with a verifier that records the chain and the verdict of the standard
//! WebPKI verifier (the configured CA, else the system's roots) instead of aborting, so an
//! expired or misnamed certificate is still read and reported with its dates. Nothing is
//! sent over the connection: it closes after the handshake.

use super::check;
use crate::error::{context, BoxError};
use crate::validation::context::{measure, warn};
use crate::validation::{fail, Check, Checked, Session, Verdict};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Under this many days to expiry, the check warns.
pub const EXPIRY_WARN_DAYS: i64 = 30;
/// Under this many days it fails: too close for a change window.
pub const EXPIRY_FAIL_DAYS: i64 = 7;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn checks() -> Vec<Check> {
    vec![check!(
        "temporal.tls_certificate",
        Temporal,
        Quick,
        "The frontend's certificate verifies for its name; under 30 days to expiry warns, 7 fails",
        tls_certificate
    )]
}

async fn tls_certificate(session: Arc<Session>) -> Checked {
    let target = &session.target().temporal;
    let pems = target
        .tls_pems()
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| {
            Verdict::Skipped(
                "the frontend is reached in plaintext (no --tls-ca/--tls-cert or API key): no \
                 certificate to check"
                    .into(),
            )
        })?;
    let name = pems
        .server_name
        .clone()
        .unwrap_or_else(|| target.host().to_string());
    let inspected = handshake(&target.address, &name, &pems)
        .await
        .map_err(fail)?;
    let leaf = inspected
        .chain
        .first()
        .ok_or_else(|| fail("the server sent no certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| fail(format!("the server's certificate does not parse: {e}")))?;
    let not_after = cert.validity().not_after;
    let seconds_left = not_after.timestamp() - time_now();
    let days_left = seconds_left.div_euclid(86_400);
    measure("days_to_expiry", seconds_left as f64 / 86_400.0);
    let subject = cert.subject().to_string();
    let expiry = format!("expires {not_after} ({days_left} days)");
    if let Err(why) = &inspected.verdict {
        return Err(fail(format!(
            "the certificate for `{name}` ({subject}, {expiry}) does not verify: {why}. Fix: \
             {}",
            fix_for(why)
        )));
    }
    if days_left < EXPIRY_FAIL_DAYS {
        return Err(fail(format!(
            "the certificate for `{name}` ({subject}) {expiry}: under {EXPIRY_FAIL_DAYS} days \
             left; renew it and reload the frontend now"
        )));
    }
    if days_left < EXPIRY_WARN_DAYS {
        warn(format!(
            "the certificate expires in {days_left} days ({not_after}): renew it and reload \
             the frontend before then"
        ));
    }
    Ok(format!(
        "certificate for `{name}` verifies ({subject}, chain of {}); {expiry}",
        inspected.chain.len()
    ))
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn fix_for(why: &rustls::Error) -> &'static str {
    use rustls::CertificateError as E;
    match why {
        rustls::Error::InvalidCertificate(E::Expired | E::ExpiredContext { .. }) => {
            "renew the certificate and reload the frontend"
        }
        rustls::Error::InvalidCertificate(
            E::NotValidForName | E::NotValidForNameContext { .. },
        ) => {
            "issue it for the name clients use, or set the server name clients verify \
             (--tls-server-name / TEMPORAL_HARNESS_TLS_SERVER_NAME)"
        }
        rustls::Error::InvalidCertificate(E::UnknownIssuer) => {
            "give the CA that issued it (--tls-ca), or have the server send its intermediates"
        }
        _ => "see the frontend's TLS settings (global.tls.frontend in the server config)",
    }
}

/// What one handshake showed.
struct Inspected {
    chain: Vec<CertificateDer<'static>>,
    verdict: Result<(), rustls::Error>,
}

async fn handshake(
    address: &str,
    name: &str,
    pems: &crate::stack::TlsPems,
) -> Result<Inspected, BoxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &pems.ca {
        Some(ca) => {
            for cert in pem_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| context("the CA file holds an unusable certificate", e))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let standard = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| context("no usable CA certificate", e))?;
    let recorder = Arc::new(Recorder {
        standard,
        seen: Mutex::new(None),
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone());
    let mut config = match &pems.client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                pem_certs(cert)?,
                PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| context("the client key does not parse", e))?,
            )
            .map_err(|e| context("the client certificate and key do not match", e))?,
        None => builder.with_no_client_auth(),
    };
    // The frontend speaks gRPC: offer HTTP/2 as a gRPC client would.
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name =
        ServerName::try_from(name.to_string()).map_err(|e| context(format!("`{name}`"), e))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connected = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| context(format!("cannot reach {address}"), e))?;
        connector
            .connect(server_name, tcp)
            .await
            .map_err(BoxError::from)
    })
    .await
    .map_err(|_| format!("no TLS handshake with {address} within {HANDSHAKE_TIMEOUT:?}"))?;
    let seen = recorder
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match (seen, connected) {
        (Some(inspected), _) => Ok(inspected),
        (None, Err(e)) => Err(format!(
            "the TLS handshake with {address} failed before a certificate was sent: {e} (is \
             it serving TLS?)"
        )
        .into()),
        (None, Ok(_)) => Err("the handshake finished without a certificate".into()),
    }
}

fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, BoxError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| context("not a PEM certificate file", e))?;
    if certs.is_empty() {
        return Err("the PEM file holds no certificate".into());
    }
    Ok(certs)
}

/// Records the chain and the standard verifier's verdict, and lets the handshake finish so
/// the certificate can be read whatever the verdict.
#[derive(Debug)]
struct Recorder {
    standard: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Inspected>>,
}

impl std::fmt::Debug for Inspected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected")
            .field("chain", &self.chain.len())
            .field("verdict", &self.verdict)
            .finish()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .standard
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(drop);
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Inspected { chain, verdict });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.standard.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.standard.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.standard.supported_verify_schemes()
    }
}
