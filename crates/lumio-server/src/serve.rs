//! The accept loop of plain HTTP and HTTPS alike: each connection goes to hyper with the
//! client's address, a header-read timeout (slow-header connections are closed, not
//! kept), an idle timeout for every protocol ([`crate::idle`]), and on shutdown the same
//! bounded drain, after which what is left is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::idle::{Activity, Tracked};
use crate::tls::Tls;

/// The app as one connection serves it: with the client's address, reporting activity.
type ConnectionService = TowerToHyperService<
    Tracked<axum::middleware::AddExtension<Router, axum::extract::ConnectInfo<SocketAddr>>>,
>;

/// A request whose headers have not all arrived by then is dropped with its connection,
/// so idle or trickling sockets cannot pile up.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Likewise a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections to finish their requests; then they
/// are closed, so SIGTERM always ends the process.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection told to close (idle, or shutting down) may take to finish what
/// it has under way before it is dropped.
const CLOSE_GRACE: Duration = DRAIN_TIMEOUT;

/// Serves `app` (over TLS with `tls`) until `stopped` fires, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<Tls>>,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    // Flips to true on shutdown; every connection then finishes what it has under way.
    let (closing, _) = watch::channel(false);
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
        let activity = Activity::new();
        let app = Tracked::new(
            tower::Layer::layer(&connect_info, app.clone()),
            Arc::clone(&activity),
        );
        let service = TowerToHyperService::new(app);
        let http = http.clone();
        let closing = closing.subscribe();
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        connections.spawn(async move {
            let Some(acceptor) = acceptor else {
                return drive(&http, tcp, service, &activity, closing, peer).await;
            };
            // Boxed: a task's future is as big as its biggest state, and the handshake
            // and a connection over TLS hold rustls's state inline, so unboxed every
            // plain connection's task would reserve room for them too (a connection is
            // open for every action call in flight: docs/benchmarks.md).
            Box::pin(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => drive(&http, stream, service, &activity, closing, peer).await,
                    Ok(Err(err)) => tracing::debug!(%peer, %err, "TLS handshake failed"),
                    Err(_) => {}
                }
            })
            .await
        });
    }
    drop(listener);
    closing.send_replace(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closed the connections still open after {DRAIN_TIMEOUT:?}"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Serves one connection until it ends. Idle past its limit, or when the server shuts
/// down, it is told to close (HTTP/2 sends GOAWAY, HTTP/1 closes after the response
/// under way) and dropped if it has not within [`CLOSE_GRACE`].
async fn drive<I>(
    http: &auto::Builder<TokioExecutor>,
    io: I,
    service: ConnectionService,
    activity: &Activity,
    mut closing: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let told = tokio::select! {
        result = connection.as_mut() => return ended(peer, result),
        _ = activity.idle() => "idle",
        _ = closing.wait_for(|closing| *closing) => "shutdown",
    };
    tracing::debug!(%peer, why = told, "closing the connection");
    connection.as_mut().graceful_shutdown();
    match tokio::time::timeout(CLOSE_GRACE, connection).await {
        Ok(result) => ended(peer, result),
        Err(_) => tracing::debug!(%peer, "dropped a connection that did not close"),
    }
}

fn ended(peer: SocketAddr, result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(err) = result {
        tracing::debug!(%peer, %err, "connection ended with an error");
    }
}
