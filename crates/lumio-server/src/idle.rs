//! Closes connections that sit idle, whatever their protocol. HTTP/1's header-read
//! timeout cuts off a request that trickles in, but an HTTP/2 client can open a
//! connection (or a stream whose headers never end) and hold it with no request ever
//! reaching the service. So each connection counts its requests in flight (a response
//! is in flight until its body is dropped, so a long stream is never idle) and is told
//! to close once none has been under way for [`FIRST_REQUEST_TIMEOUT`] (before its
//! first request) or [`KEEP_ALIVE_TIMEOUT`] (after one).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{Request, Response};
use tokio::time::Instant;

/// A connection that has not completed a request's headers by then is closed, as
/// HTTP/1's header-read timeout closes a trickling one.
pub(crate) const FIRST_REQUEST_TIMEOUT: Duration = crate::serve::HEADER_READ_TIMEOUT;
/// A kept-alive connection with nothing under way for this long is closed (clients
/// reopen one; nginx's default is 75 s).
pub(crate) const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// What one connection has under way, and since when it has had nothing.
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// When the last request ended, in milliseconds since `opened`.
    last_end_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_end_ms: AtomicU64::new(0),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.served.store(true, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Resolves once the connection has had nothing under way for its limit.
    pub async fn idle(&self) {
        loop {
            let limit = if self.served.load(Ordering::Relaxed) {
                KEEP_ALIVE_TIMEOUT
            } else {
                FIRST_REQUEST_TIMEOUT
            };
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let last_end = Duration::from_millis(self.last_end_ms.load(Ordering::SeqCst));
            let deadline = self.opened + last_end + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// One request under way; its drop (when the response body is done or abandoned) marks
/// the time the connection's idle clock starts from.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let now = activity.opened.elapsed().as_millis() as u64;
        activity.last_end_ms.fetch_max(now, Ordering::SeqCst);
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A service that reports its requests to the connection's [`Activity`].
#[derive(Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S, B> tower::Service<Request<B>> for Tracked<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let in_flight = self.activity.begin();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(TrackedBody {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A response body that keeps its request in flight until it is dropped.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
