//! The component's only way out: the wasi:http sender. A request leaves
//! only for the configured gateway origin, to loopback addresses the host
//! chose itself, with the bearer token added here. Proxies are never used
//! and redirects are never followed (a 3xx is handed back as it is).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aipermission_core::origin::GatewayOrigin;
use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The component's headers that reach the gateway; the host adds the rest.
const KEPT_HEADERS: [HeaderName; 2] = [CONTENT_TYPE, CONTENT_LENGTH];

/// The future the wasi:http implementation drives for the connection.
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// What the host allows out, fixed at start.
pub struct Policy {
    /// The gateway origin, or none when the configured URL was refused.
    origin: Option<GatewayOrigin>,
    /// `Bearer <token>`, marked sensitive so it never prints.
    authorization: Option<HeaderValue>,
    /// Upper bound for each wait of a request, whatever the component asks:
    /// a little above the component's own deadline, which answers first.
    timeout: Duration,
}

impl Policy {
    pub fn new(
        origin: Option<GatewayOrigin>,
        authorization: Option<HeaderValue>,
        timeout: Duration,
    ) -> Policy {
        Policy {
            origin,
            authorization,
            timeout,
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
    dispatched: &AtomicBool,
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
    let connect_timeout = clamp(options.and_then(|o| o.connect_timeout));
    let first_byte_timeout = clamp(options.and_then(|o| o.first_byte_timeout));

    let stream = connect(origin, connect_timeout).await?;
    dispatched.store(true, Ordering::SeqCst);

    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line carries only the path: this is no proxy request.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    // Drive the connection while waiting for the response head; once it
    // is there, the connection future goes to wasi:http, which drops it
    // (closing the socket) when the component drops the response.
    let mut conn = Box::pin(conn);
    let exchange = async {
        let send = sender.send_request(request);
        tokio::pin!(send);
        tokio::select! {
            response = &mut send => Ok((response?, true)),
            finished = &mut conn => {
                finished?;
                Ok::<_, Error>((send.await?, false))
            }
        }
    };
    let (response, conn_pending) = tokio::time::timeout(first_byte_timeout, exchange)
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;

    let io: IoFuture = if conn_pending {
        Box::new(async move { conn.await.map_err(Error::from) })
    } else {
        Box::new(async { Ok(()) })
    };
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    Ok((response, io))
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

/// Connects to the first of the origin's loopback addresses that accepts.
/// Only addresses from [`GatewayOrigin::socket_addrs`] are ever tried:
/// nothing is resolved, so no name can lead anywhere else.
async fn connect(origin: &GatewayOrigin, timeout: Duration) -> Result<TcpStream, Error> {
    let attempt = async {
        for addr in origin.socket_addrs() {
            debug_assert!(addr.ip().is_loopback());
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => tracing::debug!(%addr, error = %err, "gateway connection failed"),
            }
        }
        // No connection means no byte of the request left this process.
        Err(Error::ConnectionRefused)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| Error::ConnectionTimeout)?
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
            let dispatched = AtomicBool::new(false);
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
        let dispatched = AtomicBool::new(false);
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
        let dispatched = AtomicBool::new(false);
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
        let dispatched = AtomicBool::new(false);
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
