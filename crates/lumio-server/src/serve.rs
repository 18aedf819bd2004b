//! The accept loop of plain HTTP and HTTPS alike: each connection goes to hyper with the
//! client's address, a header-read timeout (slow-header connections are closed, not
//! kept), and on shutdown the same bounded drain, after which what is left is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::tls::Tls;

/// A request whose headers have not all arrived by then is dropped with its connection,
/// so idle or trickling sockets cannot pile up.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Likewise a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections to finish their requests; then they
/// are closed, so SIGTERM always ends the process.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` (over TLS with `tls`) until `stopped` fires, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<Tls>>,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reaps finished connections, so the set holds only open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = &mut stopped => break,
        };
        let _ = tcp.set_nodelay(true);
        // The peer's address is the client's, for the per-address limits.
        let connect_info = axum::Extension(axum::extract::ConnectInfo(peer));
        let service = TowerToHyperService::new(tower::Layer::layer(&connect_info, app.clone()));
        let http = http.clone();
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        connections.spawn(async move {
            let Some(acceptor) = acceptor else {
                let connection = http.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                return ended(peer, watcher.watch(connection).await);
            };
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
            ended(peer, watcher.watch(connection).await);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "closed the connections still open after {DRAIN_TIMEOUT:?}"
        );
    }
    connections.shutdown().await;
    Ok(())
}

fn ended(peer: SocketAddr, result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "connection ended with an error");
    }
}
