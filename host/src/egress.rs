//! The component's only way out: the wasi:http sender. A request leaves
//! only for the configured gateway origin, to loopback addresses the host
//! chose itself, with the bearer token added here. Proxies are never used
//! and redirects are never followed (a 3xx is handed back as it is).
//!
//! Connections to the gateway are kept alive and reused between calls
//! (one pool for the process, idle ones closed after two seconds), so a
//! call costs a request, not a TCP handshake. A request the pool could not
//! send on a connection the gateway had just closed is retried only when
//! none of it was written.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use aipermission_core::origin::GatewayOrigin;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The component's headers that reach the gateway; the host adds the rest.
const KEPT_HEADERS: [HeaderName; 2] = [CONTENT_TYPE, CONTENT_LENGTH];

/// The future the wasi:http implementation drives for the connection.
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// How long an idle gateway connection is kept. Servers commonly close
/// idle connections after five seconds (Node's default); closing ours
/// first keeps a request from racing the server's close.
const IDLE_CONNECTION: Duration = Duration::from_secs(2);

/// Idle connections kept for reuse.
const IDLE_CONNECTIONS: usize = 32;

/// What the host allows out, fixed at start.
pub struct Policy {
    /// The gateway origin, or none when the configured URL was refused.
    origin: Option<GatewayOrigin>,
    /// `Bearer <token>`, marked sensitive so it never prints.
    authorization: Option<HeaderValue>,
    /// Upper bound for each wait of a request, whatever the component asks:
    /// a little above the component's own deadline, which answers first.
    timeout: Duration,
    /// Keep-alive HTTP/1 connections to the origin's loopback addresses.
    client: Client<Loopback, Dispatching>,
}

impl Policy {
    pub fn new(
        origin: Option<GatewayOrigin>,
        authorization: Option<HeaderValue>,
        timeout: Duration,
    ) -> Policy {
        let addrs = origin.as_ref().map(GatewayOrigin::socket_addrs);
        let connector = Loopback {
            addrs: addrs.unwrap_or_default().into(),
            timeout,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_CONNECTION)
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .retry_canceled_requests(true)
            .set_host(false)
            .build(connector);
        Policy {
            origin,
            authorization,
            timeout,
            client,
        }
    }
}

/// The per-call hooks: the shared policy, and a flag set once a request
/// may have reached the gateway, so a stopped call can say whether a
/// mutation's outcome is unknown.
pub struct Hooks {
    policy: Arc<Policy>,
    dispatched: Arc<AtomicBool>,
}

impl Hooks {
    pub fn new(policy: Arc<Policy>, dispatched: Arc<AtomicBool>) -> Hooks {
        Hooks { policy, dispatched }
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_errors: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send> {
        let policy = Arc::clone(&self.policy);
        let dispatched = Arc::clone(&self.dispatched);
        Box::new(async move { send(&policy, request, options, &dispatched).await })
    }
}

async fn send(
    policy: &Policy,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    dispatched: &Arc<AtomicBool>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let origin = admit(policy, &request)?;
    let Some(authorization) = &policy.authorization else {
        tracing::warn!("denied a gateway request: no usable token is configured");
        return Err(Error::HttpRequestDenied);
    };
    // The gateway sees only headers the host chose: the body's type and
    // length, a Host naming the configured origin and the host's token.
    // Anything else the component set (another credential such as
    // X-API-Key, an Origin, a browser-like User-Agent) is dropped.
    let host =
        HeaderValue::from_str(&origin.authority()).map_err(|_| Error::HttpRequestUriInvalid)?;
    let mut headers = HeaderMap::new();
    for name in KEPT_HEADERS {
        for value in request.headers().get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(HOST, host);
    headers.insert(AUTHORIZATION, authorization.clone());
    *request.headers_mut() = headers;

    let clamp = |wanted: Option<Duration>| wanted.map_or(policy.timeout, |w| w.min(policy.timeout));
    let first_byte_timeout = clamp(options.and_then(|o| o.first_byte_timeout));

    // The pool keys connections by this URI, which names the checked
    // origin; the connector ignores it and dials the origin's addresses.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://{}{path}", origin.authority());
    *request.uri_mut() = Uri::try_from(uri).map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = request.map(|body| Dispatching {
        inner: body,
        dispatched: Arc::clone(dispatched),
    });

    let response = tokio::time::timeout(first_byte_timeout, policy.client.request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(request_error)?;
    dispatched.store(true, Ordering::SeqCst);
    // The pool drives the connection; it is reused once the component has
    // read the whole body, and closed if it drops the body early.
    let io: IoFuture = Box::new(async { Ok(()) });
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, io))
}

/// What a failed exchange means to the component. A connection that could
/// not be made is the only failure that proves nothing was sent.
fn request_error(err: hyper_util::client::legacy::Error) -> Error {
    use std::error::Error as _;
    if err.is_connect() {
        let io = err
            .source()
            .and_then(|e| e.downcast_ref::<std::io::Error>());
        return match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::TimedOut) => Error::ConnectionTimeout,
            _ => Error::ConnectionRefused,
        };
    }
    // Anything else may have happened after bytes left: the component
    // reports a mutation's outcome as unknown.
    let mut cause = err.source();
    let mut hyper = None;
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<hyper::Error>() {
            hyper = Some(found);
            break;
        }
        cause = current.source();
    }
    match hyper {
        Some(hyper) if hyper.is_timeout() => Error::ConnectionReadTimeout,
        Some(_) => Error::HttpProtocolError,
        None => Error::InternalError(Some("the gateway exchange failed".to_owned())),
    }
}

/// The component's request body, marking the call as dispatched when the
/// pool starts writing it onto a connection: from then on, a mutation may
/// have reached the gateway.
pub struct Dispatching {
    inner: WasiBody,
    dispatched: Arc<AtomicBool>,
}

impl Body for Dispatching {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.dispatched.store(true, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Dials the origin's loopback addresses, in order; never resolves a name.
#[derive(Clone)]
pub struct Loopback {
    addrs: Arc<[SocketAddr]>,
    timeout: Duration,
}

impl tower_service::Service<Uri> for Loopback {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (addrs, timeout) = (Arc::clone(&self.addrs), self.timeout);
        Box::pin(async move {
            let stream = connect(&addrs, timeout).await?;
            // Small requests go out at once, not after a delayed ACK.
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// Checks the request against the configured origin and returns it.
fn admit<'p>(
    policy: &'p Policy,
    request: &http::Request<WasiBody>,
) -> Result<&'p GatewayOrigin, Error> {
    let Some(origin) = &policy.origin else {
        tracing::warn!("denied a gateway request: AIPERMISSION_API_URL was refused");
        return Err(Error::HttpRequestDenied);
    };
    let uri = request.uri();
    let authority = uri.authority().map_or("", |a| a.as_str());
    if let Err(denial) = origin.admits(uri.scheme_str(), authority) {
        tracing::warn!(%denial, "denied a request that is not for the gateway origin");
        return Err(Error::HttpRequestDenied);
    }
    Ok(origin)
}

/// Connects to the first of the addresses that accepts. They are only
/// ever [`GatewayOrigin::socket_addrs`]: nothing is resolved, so no name
/// can lead anywhere else.
async fn connect(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<TcpStream> {
    use std::io::{Error as IoError, ErrorKind};
    let attempt = async {
        for addr in addrs {
            debug_assert!(addr.ip().is_loopback());
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => tracing::debug!(%addr, error = %err, "gateway connection failed"),
            }
        }
        // No connection means no byte of the request left this process.
        Err(IoError::from(ErrorKind::ConnectionRefused))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| IoError::from(ErrorKind::TimedOut))?
}

#[cfg(test)]
mod tests {
    use aipermission_core::origin::parse_gateway_url;
    use aipermission_testkit::{Decoy, StandIn};
    use bytes::Bytes;
    use http_body_util::Empty;

    use super::*;

    const TOKEN: &str = "aip_UNIT_CANARY";

    fn bearer() -> HeaderValue {
        let mut value = HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap();
        value.set_sensitive(true);
        value
    }

    fn get(uri: &str, authorization: Option<&str>) -> http::Request<WasiBody> {
        let body = Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut request = http::Request::builder().method("GET").uri(uri);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.body(body).unwrap()
    }

    fn policy(url: &str, authorization: Option<HeaderValue>) -> Policy {
        let origin = parse_gateway_url(Some(url)).unwrap();
        Policy::new(Some(origin), authorization, Duration::from_secs(5))
    }

    #[tokio::test]
    async fn requests_off_the_origin_are_denied_before_any_connection() {
        let gateway = Decoy::bind("127.0.0.1").await.unwrap();
        let other = Decoy::bind("127.0.0.1").await.unwrap();
        let (p, q) = (gateway.port(), other.port());
        let policy = policy(&format!("http://127.0.0.1:{p}"), Some(bearer()));
        let refused = [
            format!("http://127.0.0.1:{q}/api/mcp/connector-targets"),
            format!("http://localhost:{p}/"),
            format!("https://127.0.0.1:{p}/"),
            format!("http://user@127.0.0.1:{p}/"),
            format!("http://0.0.0.0:{p}/"),
            format!("http://[::]:{p}/"),
            format!("http://[::ffff:127.0.0.1]:{p}/"),
            format!("http://127.0.0.2:{p}/"),
            format!("http://127.1:{p}/"),
            format!("http://gateway.invalid:{p}/"),
            "/relative/only".to_owned(),
        ];
        for uri in refused {
            let dispatched = Arc::new(AtomicBool::new(false));
            let sent = send(&policy, get(&uri, None), None, &dispatched).await;
            assert!(
                matches!(sent, Err(Error::HttpRequestDenied)),
                "{uri} was not denied"
            );
            assert!(!dispatched.load(Ordering::SeqCst));
        }
        assert_eq!(
            gateway.accepted() + other.accepted(),
            0,
            "a denied request connected"
        );
    }

    #[tokio::test]
    async fn the_hosts_token_replaces_any_the_component_set() {
        let gateway = StandIn::start(TOKEN).await.unwrap();
        let policy = policy(&gateway.url(), Some(bearer()));
        let uri = format!("{}/api/mcp/connector-targets", gateway.url());
        let dispatched = Arc::new(AtomicBool::new(false));
        let mut request = get(&uri, Some("Bearer forged"));
        for (name, value) in [("x-api-key", "forged"), ("origin", "http://evil.invalid")] {
            request
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        let (response, _io) = send(&policy, request, None, &dispatched)
            .await
            .expect("the request reaches the gateway");
        assert_eq!(response.status(), 200);
        assert!(dispatched.load(Ordering::SeqCst));
        let seen = gateway.seen();
        let values: Vec<_> = seen[0].headers.get_all(AUTHORIZATION).iter().collect();
        assert_eq!(values, [format!("Bearer {TOKEN}").as_str()]);
        assert!(seen[0].header("x-api-key").is_none() && seen[0].header("origin").is_none());
    }

    #[tokio::test]
    async fn without_a_usable_token_nothing_is_sent() {
        let gateway = StandIn::start(TOKEN).await.unwrap();
        let policy = policy(&gateway.url(), None);
        let uri = format!("{}/api/mcp/connector-targets", gateway.url());
        let dispatched = Arc::new(AtomicBool::new(false));
        let sent = send(&policy, get(&uri, Some("Bearer forged")), None, &dispatched).await;
        assert!(matches!(sent, Err(Error::HttpRequestDenied)));
        assert!(gateway.seen().is_empty());
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_as_not_dispatched() {
        let closed = Decoy::bind("127.0.0.1").await.unwrap();
        let port = closed.port();
        drop(closed);
        let policy = policy(&format!("http://localhost:{port}"), Some(bearer()));
        let dispatched = Arc::new(AtomicBool::new(false));
        let sent = send(
            &policy,
            get(&format!("http://localhost:{port}/"), None),
            None,
            &dispatched,
        )
        .await;
        assert!(matches!(sent, Err(Error::ConnectionRefused)));
        assert!(!dispatched.load(Ordering::SeqCst));
    }
}
