//! A TCP proxy the harness owns, between the worker and Temporal: network faults (latency,
//! dropped connections, resets) happen here, and a restarted server's new address is
//! followed here, so clients keep one address across restarts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Shared {
    upstream: RwLock<String>,
    /// Added to every chunk forwarded, in microseconds.
    latency_us: AtomicU64,
    /// New connections are closed at once while set.
    refusing: AtomicBool,
    /// Bumped to reset every open connection.
    generation: watch::Sender<u64>,
    open: AtomicUsize,
    accepted: AtomicUsize,
}

/// A running proxy; it and its connections stop when it is dropped.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("address", &self.address)
            .field("upstream", &self.upstream())
            .finish()
    }
}

impl Proxy {
    /// Listens on a free local port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: RwLock::new(upstream.to_string()),
            latency_us: AtomicU64::new(0),
            refusing: AtomicBool::new(false),
            generation: watch::channel(0).0,
            open: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Proxy {
            address,
            shared,
            accept,
        })
    }

    /// Where clients connect (`127.0.0.1:port`).
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Where it forwards to.
    pub fn upstream(&self) -> String {
        self.shared.upstream.read().expect("proxy lock").clone()
    }

    /// Forwards new connections to `upstream` from now on (a restarted server's address).
    pub fn set_upstream(&self, upstream: &str) {
        *self.shared.upstream.write().expect("proxy lock") = upstream.to_string();
    }

    /// Delays every chunk forwarded, in both directions, by `latency` (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_us
            .store(latency.as_micros() as u64, Ordering::SeqCst);
    }

    /// While `refusing`, new connections are closed at once (and open ones reset when it
    /// starts): the network is down.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
        if refusing {
            self.reset_connections();
        }
    }

    /// Resets every open connection (RST, as a middlebox dropping state would).
    pub fn reset_connections(&self) {
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted_connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Closing the channel ends every connection task.
        self.shared.generation.send_modify(|g| *g += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.refusing.load(Ordering::SeqCst) {
            reset(&client);
            continue;
        }
        tokio::spawn(connection(client, shared.clone()));
    }
}

/// Closing with linger 0 sends RST instead of FIN.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

async fn connection(client: TcpStream, shared: Arc<Shared>) {
    let upstream = shared.upstream.read().expect("proxy lock").clone();
    let Ok(server) = TcpStream::connect(&upstream).await else {
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    shared.open.fetch_add(1, Ordering::SeqCst);
    let mut generation = shared.generation.subscribe();
    generation.borrow_and_update();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = pump(&mut client_read, &mut server_write, &shared);
    let down = pump(&mut server_read, &mut client_write, &shared);
    let reset_now = tokio::select! {
        _ = up => false,
        _ = down => false,
        _ = generation.changed() => true,
    };
    if reset_now {
        if let (Ok(client), Ok(server)) = (
            client_read.reunite(client_write),
            server_read.reunite(server_write),
        ) {
            reset(&client);
            reset(&server);
        }
    }
    shared.open.fetch_sub(1, Ordering::SeqCst);
}

async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    shared: &Shared,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let latency = shared.latency_us.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_micros(latency)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: what the proxy forwards to.
    async fn echo() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        address
    }

    async fn round_trip(address: &str) -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(address).await?;
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn forwards_follows_new_upstreams_and_refuses_while_down() {
        let proxy = Proxy::start(&echo().await).await.unwrap();
        assert_eq!(round_trip(&proxy.address()).await.unwrap(), b"ping");
        proxy.set_upstream(&echo().await);
        assert_eq!(round_trip(&proxy.address()).await.unwrap(), b"ping");
        proxy.set_refusing(true);
        assert!(round_trip(&proxy.address()).await.is_err());
        proxy.set_refusing(false);
        assert_eq!(round_trip(&proxy.address()).await.unwrap(), b"ping");
        assert_eq!(proxy.accepted_connections(), 4);
    }

    #[tokio::test]
    async fn resets_open_connections() {
        let proxy = Proxy::start(&echo().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.address()).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        proxy.reset_connections();
        // The reset arrives as an error or end of stream on the next read.
        let mut rest = Vec::new();
        let outcome = s.read_to_end(&mut rest).await;
        assert!(outcome.is_err() || rest.is_empty(), "{outcome:?}");
    }
}
