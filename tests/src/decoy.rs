//! A listener that must never be reached: it accepts and counts
//! connections, so a test can show that a refused request made none.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;

/// Counts the connections made to one loopback address.
pub struct Decoy {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Decoy {
    /// Listens on `ip` (a loopback address) at a free port.
    pub async fn bind(ip: &str) -> std::io::Result<Decoy> {
        Decoy::bind_addr(format!("{ip}:0").parse().expect("an IP address")).await
    }

    /// Listens on exactly `addr`.
    pub async fn bind_addr(addr: SocketAddr) -> std::io::Result<Decoy> {
        assert!(addr.ip().is_loopback(), "decoys listen on loopback only");
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Ok(Decoy {
            addr,
            accepted,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
