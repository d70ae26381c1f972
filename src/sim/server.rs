//! Serving: a bound listener plus a configuration become a running simulator, over plain HTTP
//! or TLS, until a shutdown future resolves. [`SimServer`] splits that in two steps so the
//! binary can print its URL (and tests can read the CA) after the certificate is written but
//! before requests flow; [`serve`] and [`RunningSim`] are the one-call forms.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::app::App;
use super::config::{Scheme, SimConfig};
use super::conn::KillAcceptor;
use super::routes::router;
use super::state::StateSnapshot;
use super::stats::StatsSnapshot;
use super::tls;

/// A simulator ready to serve on a bound listener.
pub struct SimServer {
    listener: TcpListener,
    app: Arc<App>,
    url: String,
    ca_pem: Option<String>,
    tls: Option<RustlsConfig>,
}

/// The portal URL for a local address (`http(s)://127.0.0.1:PORT`; unspecified → loopback).
fn portal_url(addr: SocketAddr, scheme: Scheme) -> String {
    let scheme = scheme.as_str();
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("{scheme}://{ip}:{}", addr.port())
}

impl SimServer {
    /// Builds the state and, with `tls`, the certificates (writing `cert_out`).
    pub async fn new(listener: TcpListener, config: SimConfig) -> io::Result<SimServer> {
        let addr = listener.local_addr()?;
        let url = portal_url(addr, config.scheme());
        let (ca_pem, tls) = if config.tls {
            let material = tls::generate(&config.tls_names)?;
            if let Some(path) = &config.cert_out {
                std::fs::write(path, &material.ca_pem)?;
            }
            let rustls = RustlsConfig::from_pem(
                material.chain_pem.into_bytes(),
                material.key_pem.into_bytes(),
            )
            .await?;
            (Some(material.ca_pem), Some(rustls))
        } else {
            (None, None)
        };
        let app = App::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(SimServer {
            listener,
            app: Arc::new(app),
            url,
            ca_pem,
            tls,
        })
    }

    /// The portal URL clients should use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) under TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Serves until `shutdown` resolves, then lets open requests finish (at most ~2 s),
    /// writes `--state-out` if configured, and returns the final state.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<StateSnapshot> {
        let handle = axum_server::Handle::<SocketAddr>::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(Duration::from_secs(2)));
        });
        let service = router(self.app.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let acceptor = KillAcceptor::new(self.app.kills.clone());
        let server = axum_server::Server::from_listener(self.listener).handle(handle);
        match self.tls {
            Some(tls) => {
                server
                    .acceptor(RustlsAcceptor::new(tls).acceptor(acceptor))
                    .serve(service)
                    .await?
            }
            None => server.acceptor(acceptor).serve(service).await?,
        }
        let state = self.app.snapshot();
        if let Some(path) = &self.app.config.state_out {
            let json = serde_json::to_string_pretty(&state).map_err(io::Error::other)?;
            std::fs::write(path, json + "\n")?;
        }
        Ok(state)
    }
}

/// Serves `config` on `listener` (plain HTTP or TLS per `config.tls`) until `shutdown`
/// resolves; writes `--cert-out` at start and `--state-out` at the end when configured.
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    SimServer::new(listener, config)
        .await?
        .run(shutdown)
        .await?;
    Ok(())
}

/// A simulator running in-process on `127.0.0.1:<ephemeral>`, for tests.
pub struct RunningSim {
    /// The portal URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The CA certificate (PEM) to trust when `tls` is on.
    pub ca_pem: Option<String>,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<StateSnapshot>>>,
}

impl RunningSim {
    /// Binds `127.0.0.1:0` and spawns the simulator on the current tokio runtime.
    pub async fn start(config: SimConfig) -> io::Result<RunningSim> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = SimServer::new(listener, config).await?;
        let (url, ca_pem, app) = (
            server.url.clone(),
            server.ca_pem.clone(),
            server.app.clone(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            // A dropped RunningSim (sender gone) stops the server too.
            let _ = stopped.await;
        }));
        Ok(RunningSim {
            url,
            addr,
            ca_pem,
            app,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The current state (same document as `GET /__sim/state`).
    pub fn state(&self) -> StateSnapshot {
        self.app.snapshot()
    }

    /// The current counters (same document as `GET /__sim/stats`).
    pub fn stats(&self) -> StatsSnapshot {
        self.app.stats.snapshot()
    }

    /// Stops the server, waits for it, and returns the final state.
    pub async fn shutdown(mut self) -> StateSnapshot {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.app.snapshot()
    }
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("url", &self.url)
            .finish()
    }
}
