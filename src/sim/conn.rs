//! Connection kill switch for `--drop-rate`: a write is applied, then its connection is closed
//! without any response, so the client sees a transport error and cannot know the outcome.
//!
//! axum handlers can only return responses, so the switch lives below HTTP: an
//! [`Accept`](axum_server::accept::Accept) wrapper puts every accepted TCP stream in a
//! [`KillableStream`] registered under the peer address. A handler that wants to drop its
//! connection flips the switch for its peer (from `ConnectInfo`); the stream then refuses every
//! further read and write, hyper abandons the connection before a byte of the response leaves,
//! and dropping the socket closes it. Under TLS the switch sits beneath the TLS layer, which
//! fails the same way.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Live connections by peer address.
#[derive(Debug, Default)]
pub struct KillRegistry {
    switches: Mutex<HashMap<SocketAddr, Arc<AtomicBool>>>,
}

impl KillRegistry {
    /// Closes the connection from `peer` without answering; false if it is unknown.
    pub fn kill(&self, peer: SocketAddr) -> bool {
        let switches = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        switches
            .get(&peer)
            .map(|s| s.store(true, Ordering::SeqCst))
            .is_some()
    }

    fn register(&self, peer: SocketAddr) -> Arc<AtomicBool> {
        let switch = Arc::new(AtomicBool::new(false));
        let mut switches = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        switches.insert(peer, switch.clone());
        switch
    }

    fn unregister(&self, peer: SocketAddr) {
        let mut switches = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        switches.remove(&peer);
    }
}

/// The acceptor that registers each connection (wrap it in TLS for HTTPS).
#[derive(Debug, Clone)]
pub struct KillAcceptor {
    registry: Arc<KillRegistry>,
}

impl KillAcceptor {
    /// An acceptor registering into `registry`.
    pub fn new(registry: Arc<KillRegistry>) -> Self {
        KillAcceptor { registry }
    }
}

impl<S> Accept<TcpStream, S> for KillAcceptor {
    type Stream = KillableStream;
    type Service = S;
    type Future = std::future::Ready<io::Result<(KillableStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let result = stream.peer_addr().map(|peer| {
            // Small JSON replies: send them at once instead of waiting for Nagle.
            let _ = stream.set_nodelay(true);
            let killed = self.registry.register(peer);
            let stream = KillableStream {
                inner: stream,
                killed,
                peer,
                registry: self.registry.clone(),
            };
            (stream, service)
        });
        std::future::ready(result)
    }
}

/// A TCP stream that fails every operation once its switch is flipped.
#[derive(Debug)]
pub struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
    peer: SocketAddr,
    registry: Arc<KillRegistry>,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "portal-sim: response dropped (--drop-rate)",
            ))
        } else {
            Ok(())
        }
    }
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        self.registry.unregister(self.peer);
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
