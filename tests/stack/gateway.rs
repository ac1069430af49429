//! A gateway in front of a plaintext frontend, as Temporal Cloud's is: it speaks TLS with a
//! certificate from a CA of its own, refuses every call without `authorization: Bearer <key>`
//! (gRPC status 16, as Cloud does), and passes the rest on to the frontend. It remembers the
//! methods it passed and how many calls it refused, so a test can tell what went through it.

use bytes::Bytes;
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;

/// The name in the gateway's certificate (not the loopback address it listens on: clients
/// must be told it, as they are for a cluster behind a load balancer).
pub const SERVER_NAME: &str = "temporal.gateway.test";

/// A running gateway, on a runtime of its own (the tests block their thread while they read a
/// shard's output); it stops when dropped.
pub struct Gateway {
    /// `host:port` it listens on.
    pub address: String,
    /// The CA that signed its certificate, as a PEM file.
    pub ca_file: PathBuf,
    seen: Arc<Mutex<Seen>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Default)]
struct Seen {
    passed: Vec<String>,
    refused: usize,
}

impl Gateway {
    /// The gRPC methods it passed on, in order (`/package.Service/Method`).
    pub fn passed(&self) -> Vec<String> {
        self.seen.lock().unwrap().passed.clone()
    }

    /// How many calls it refused for a missing or wrong key.
    pub fn refused(&self) -> usize {
        self.seen.lock().unwrap().refused
    }
}

/// Starts a gateway to the plaintext frontend at `upstream`, accepting `api_key` only.
pub fn start(upstream: &str, api_key: &str) -> Gateway {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![SERVER_NAME.to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    // gRPC clients (tonic) insist on HTTP/2 being agreed in the handshake.
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(connector);
    let expected = format!("Bearer {api_key}");
    let upstream = upstream.to_string();
    let recorder = seen.clone();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, client, expected, upstream, seen) = (
                acceptor.clone(),
                client.clone(),
                expected.clone(),
                upstream.clone(),
                recorder.clone(),
            );
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    forward(
                        request,
                        client.clone(),
                        expected.clone(),
                        upstream.clone(),
                        seen.clone(),
                    )
                });
                // A connection ends when the client hangs up; how does not matter here.
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Gateway {
        address,
        ca_file,
        seen,
        runtime: Some(runtime),
        _dir: dir,
    }
}

type Body = Either<Incoming, Empty<Bytes>>;

async fn forward(
    mut request: Request<Incoming>,
    client: Client<HttpConnector, Incoming>,
    expected: String,
    upstream: String,
    seen: Arc<Mutex<Seen>>,
) -> Result<Response<Body>, hyper_util::client::legacy::Error> {
    let authorized = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        seen.lock().unwrap().refused += 1;
        // A trailers-only gRPC response: the status travels in the headers.
        return Ok(Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "16")
            .header("grpc-message", "the request lacks a valid API key")
            .body(Either::Right(Empty::new()))
            .unwrap());
    }
    let path = request.uri().path().to_string();
    seen.lock().unwrap().passed.push(path.clone());
    *request.uri_mut() = format!("http://{upstream}{path}").parse().unwrap();
    let response = client.request(request).await?;
    Ok(response.map(Either::Left))
}
