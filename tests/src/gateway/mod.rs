//! A stand-in AIPermission gateway on 127.0.0.1: the five connector routes
//! of the gateway contract with strict request checks, bearer
//! authentication, recorded requests with idempotent replay, an operator
//! control to approve, decline or complete pending requests, and fault
//! modes for transport tests. Every request it receives is recorded, so a
//! test can say exactly what reached it.

mod data;
mod script;
mod vault;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use data::{Rule, Target};
pub use script::Step;

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A misbehaviour to apply to every API request while it is set.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with `302 Found` and this `Location`, and a JSON body.
    Redirect(String),
    /// Read the request by hand and play these steps on the socket.
    Script(Vec<Step>),
    /// Answer with this status, these extra headers and this raw body.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

/// An error answer: HTTP status and JSON body.
type Refusal = (u16, Value);

/// One recorded action request.
struct Record {
    id: u64,
    target: usize,
    action: String,
    input: Value,
    status: &'static str,
    output: Option<Value>,
    display_text: Option<String>,
    error: Option<String>,
    retry_class: &'static str,
}

struct State {
    token: String,
    targets: Vec<Target>,
    records: Vec<Record>,
    /// Idempotency key → (identity, request id).
    keys: HashMap<String, (String, u64)>,
    seen: Vec<Seen>,
    fault: Option<Fault>,
    /// Faults for requests whose path starts with a prefix.
    route_faults: Vec<(String, Fault)>,
    /// When clients closed connections a script was holding.
    closed: Vec<std::time::Instant>,
    vault: vault::Vault,
    /// Connections accepted so far.
    accepted: usize,
}

/// A running stand-in gateway. It stops when dropped.
pub struct StandIn {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    /// Tells open connections to close.
    hang_up: Arc<tokio::sync::Notify>,
}

impl StandIn {
    /// Starts a stand-in that accepts `token`, on a free port of 127.0.0.1.
    pub async fn start(token: &str) -> std::io::Result<StandIn> {
        StandIn::start_on("127.0.0.1:0".parse().expect("an address"), token).await
    }

    /// Starts a stand-in on exactly `addr` (a loopback address).
    pub async fn start_on(addr: SocketAddr, token: &str) -> std::io::Result<StandIn> {
        assert!(
            addr.ip().is_loopback(),
            "the stand-in listens on loopback only"
        );
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            targets: data::targets(),
            records: Vec::new(),
            keys: HashMap::new(),
            seen: Vec::new(),
            fault: None,
            route_faults: Vec::new(),
            closed: Vec::new(),
            vault: vault::Vault::default(),
            accepted: 0,
        }));
        let hang_up = Arc::new(tokio::sync::Notify::new());
        let hang_ups = Arc::clone(&hang_up);
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _peer)) = listener.accept().await {
                let state = Arc::clone(&shared);
                lock(&state).accepted += 1;
                let script = match &lock(&state).fault {
                    Some(Fault::Script(steps)) => Some(steps.clone()),
                    _ => None,
                };
                if let Some(steps) = script {
                    tokio::spawn(async move {
                        let record = |seen| lock(&state).seen.push(seen);
                        let closed = script::play(stream, &steps, record).await;
                        lock(&state).closed.extend(closed);
                    });
                    continue;
                }
                let hang_up = Arc::clone(&hang_ups);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(handle(&state, request).await) }
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    // Dropping the connection closes its socket.
                    tokio::select! {
                        _ = connection => {}
                        () = hang_up.notified() => {}
                    }
                });
            }
        });
        Ok(StandIn {
            addr,
            state,
            task,
            hang_up,
        })
    }

    /// The gateway origin, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every API request received so far (control requests excluded).
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many connections clients have opened.
    pub fn accepted(&self) -> usize {
        self.lock().accepted
    }

    /// Closes every open keep-alive connection, as a server does with
    /// idle ones; call it only when no request is in flight.
    pub fn close_connections(&self) {
        self.hang_up.notify_waiters();
    }

    /// When clients closed the connections a [`Step::Hold`] kept open.
    pub fn closed(&self) -> Vec<std::time::Instant> {
        self.lock().closed.clone()
    }

    /// The operator approves a pending Vault request: it runs and completes.
    pub fn approve_vault(&self, id: u64) -> bool {
        self.lock().vault.approve(id)
    }

    /// Sets or clears the fault applied to API requests.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
    }

    /// Applies `fault` to the API requests whose path starts with
    /// `prefix`, alongside normal answers for the others. Scripted faults
    /// need the whole connection, so they only work through
    /// [`StandIn::set_fault`].
    pub fn set_route_fault(&self, prefix: &str, fault: Fault) {
        self.lock().route_faults.push((prefix.to_owned(), fault));
    }

    /// The operator clicks Run: a pending request runs and completes.
    pub fn approve(&self, id: u64) -> bool {
        self.lock().settle(id, Settle::Approve)
    }

    /// The operator clicks Decline, with an optional note.
    pub fn decline(&self, id: u64, note: Option<&str>) -> bool {
        self.lock()
            .settle(id, Settle::Decline(note.map(str::to_owned)))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Settle {
    Approve,
    Decline(Option<String>),
}

async fn handle(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return json_response(400, &json!({"error": "invalid json body"})),
    };
    match respond(state, &parts, &body) {
        Some(response) => response,
        // A stalled request is held until the client gives up.
        None => std::future::pending().await,
    }
}

/// The answer to one request, or none when the request is to stall.
fn respond(
    state: &Mutex<State>,
    parts: &http::request::Parts,
    body: &[u8],
) -> Option<Response<Full<Bytes>>> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut state = lock(state);

    if let Some(rest) = path.strip_prefix("/__control/") {
        return Some(state.control(&parts.method, rest));
    }
    state.seen.push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    });
    let route_fault = state
        .route_faults
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()));
    match state.fault.as_ref().or(route_fault.map(|(_, fault)| fault)) {
        // A script was set after this connection was accepted: hold it.
        Some(Fault::Script(_)) => return None,
        Some(Fault::Redirect(location)) => return Some(redirect_response(location)),
        Some(Fault::Raw {
            status,
            headers,
            body,
        }) => return Some(raw_response(*status, headers, body)),
        None => {}
    }
    if !local_host(&parts.headers) {
        let error = json!({"error": "remote gateway host header is disabled; use localhost"});
        return Some(json_response(403, &error));
    }
    if let Err((status, body)) = state.authenticate(&parts.headers) {
        return Some(json_response(status, &body));
    }
    Some(state.route(&parts.method, &parts.headers, &path, body))
}

impl State {
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = value
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token {
            None | Some("") => Err((401, json!({"error": "missing API token"}))),
            Some(token) if token == self.token => Ok(()),
            Some(_) => Err((
                401,
                json!({"error": "invalid, revoked, or expired API token"}),
            )),
        }
    }

    fn route(
        &mut self,
        method: &Method,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        match (method.as_str(), route) {
            ("GET", "/api/mcp/connector-targets") => {
                let list: Vec<Value> = self
                    .targets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| data::listing(t, i))
                    .collect();
                json_response(200, &Value::Array(list))
            }
            ("GET", "/api/mcp/connector-help") => match self.target_from_query(query) {
                Ok(index) => json_response(200, &data::help(&self.targets[index])),
                Err((status, body)) => json_response(status, &body),
            },
            ("GET", "/api/mcp/connector-actions") => match self.target_from_query(query) {
                Ok(index) => json_response(200, &data::actions(&self.targets[index])),
                Err((status, body)) => json_response(status, &body),
            },
            ("POST", "/api/mcp/connector-actions/call") => self.call(headers, body),
            (_, route) if route.starts_with("/api/mcp/vault-") => {
                let (status, body) = self
                    .vault
                    .route(method.as_str(), route, query, headers, body);
                json_response(status, &body)
            }
            ("GET", _) if route.starts_with("/api/mcp/connector-action-requests/") => {
                let id = route
                    .rsplit('/')
                    .next()
                    .and_then(|id| id.parse::<u64>().ok());
                match id.filter(|id| *id > 0) {
                    None => json_response(400, &json!({"error": "invalid id"})),
                    Some(id) => match self.records.iter().find(|r| r.id == id) {
                        Some(record) => json_response(200, &self.view(record, false, false)),
                        None => json_response(
                            404,
                            &json!({"error": "connector action request not found"}),
                        ),
                    },
                }
            }
            _ => plain_response(404, "404 page not found\n"),
        }
    }

    fn target_from_query(&self, query: &str) -> Result<usize, Refusal> {
        let target_ref = url_query(query, "target_ref").unwrap_or_default();
        let target_ref = target_ref.trim();
        if target_ref.is_empty() {
            return Err((400, json!({"error": "target_ref is required"})));
        }
        self.targets
            .iter()
            .position(|t| t.target_ref == target_ref)
            .ok_or_else(|| (404, json!({"error": "connector target not found"})))
    }

    /// `POST /api/mcp/connector-actions/call`, with the gateway's strict
    /// body decoding, visibility check and idempotent replay.
    fn call(&mut self, headers: &HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
        let invalid = || json_response(400, &json!({"error": "invalid json body"}));
        let known = [
            "target_ref",
            "action_name",
            "input",
            "reason",
            "idempotency_key",
        ];
        let Some(fields) = strict_body(headers, body, &known) else {
            return invalid();
        };
        let text = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("")
        };
        let (target_ref, action, reason, key) = (
            text("target_ref"),
            text("action_name"),
            text("reason"),
            text("idempotency_key"),
        );
        let input = match fields.get("input") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(input @ Value::Object(_)) => input.clone(),
            Some(_) => return invalid(),
        };
        if target_ref.is_empty() {
            return json_response(400, &json!({"error": "target_ref is required"}));
        }
        if key.len() > 128 {
            return json_response(400, &json!({"error": "idempotency_key is too long"}));
        }

        let identity = json!([target_ref, action, input, reason]).to_string();
        if let Some((known, id)) = self.keys.get(key).filter(|_| !key.is_empty()) {
            if *known != identity {
                return json_response(
                    409,
                    &json!({
                        "error": "connector action idempotency key was already used \
                                  for a different request"
                    }),
                );
            }
            let record = self
                .records
                .iter()
                .find(|r| r.id == *id)
                .expect("keys point at records");
            return json_response(200, &self.view(record, true, true));
        }

        let Some(target) = self.targets.iter().position(|t| t.target_ref == target_ref) else {
            return json_response(404, &json!({"error": "connector target not found"}));
        };
        let Some((rule, retry_class)) = self.targets[target].grant(action) else {
            return json_response(404, &json!({"error": "connector target not found"}));
        };
        let id = self.records.len() as u64 + 1;
        let mut record = Record {
            id,
            target,
            action: action.to_owned(),
            input,
            status: "approval_pending",
            output: None,
            display_text: None,
            error: None,
            retry_class,
        };
        if rule == Rule::AlwaysRun {
            record.run();
        }
        let view = self.view(&record, true, false);
        self.records.push(record);
        if !key.is_empty() {
            self.keys.insert(key.to_owned(), (identity, id));
        }
        json_response(200, &view)
    }

    /// The ActionResponse of a record.
    fn view(&self, record: &Record, from_call: bool, replayed: bool) -> Value {
        let target = &self.targets[record.target];
        let mut view = json!({
            "status": record.status,
            "request_id": record.id,
            "target_ref": target.target_ref,
            "target_name": target.target_name,
            "connector_kind": target.kind,
            "profile_label": target.profile_label,
            "action_name": record.action,
            "input": record.input,
        });
        if let Some(output) = &record.output {
            view["output"] = output.clone();
        }
        if let Some(text) = &record.display_text {
            view["display_text"] = text.as_str().into();
        }
        match (&record.error, record.status) {
            (Some(error), _) => view["error"] = error.as_str().into(),
            (None, "approval_pending") if from_call => {
                view["error"] = "Waiting for user approval.".into()
            }
            _ => {}
        }
        view["retry_policy"] = json!({
            "class": record.retry_class,
            "guidance": data::retry_guidance(record.retry_class),
        });
        if matches!(record.status, "approval_pending" | "running") {
            view["retry_after_seconds"] = 3.into();
            view["assistant_hint"] =
                "Wait for the operator, then poll this request with get_connector_action_request."
                    .into();
        }
        if replayed {
            view["replayed"] = true.into();
        }
        view
    }

    fn settle(&mut self, id: u64, how: Settle) -> bool {
        let Some(record) = self.records.iter_mut().find(|r| r.id == id) else {
            return false;
        };
        if !matches!(record.status, "approval_pending" | "running") {
            return false;
        }
        match how {
            Settle::Approve => record.run(),
            Settle::Decline(note) => {
                record.status = "declined";
                record.error = Some(match note {
                    Some(note) => format!("User declined the connector action: {note}"),
                    None => "User declined the connector action".to_owned(),
                });
            }
        }
        true
    }

    /// `POST /__control/requests/{id}/{approve|decline|complete}`.
    fn control(&mut self, method: &Method, rest: &str) -> Response<Full<Bytes>> {
        let parts: Vec<&str> = rest.split('/').collect();
        let (["requests", id, verb], &Method::POST) = (parts.as_slice(), method) else {
            return json_response(404, &json!({"error": "unknown control route"}));
        };
        let Ok(id) = id.parse::<u64>() else {
            return json_response(400, &json!({"error": "invalid id"}));
        };
        let done = match *verb {
            "approve" | "complete" => self.settle(id, Settle::Approve),
            "decline" => self.settle(id, Settle::Decline(None)),
            _ => return json_response(404, &json!({"error": "unknown control verb"})),
        };
        if done {
            json_response(200, &json!({"ok": true}))
        } else {
            json_response(409, &json!({"error": "request is not pending"}))
        }
    }
}

impl Record {
    /// Runs the fake connector: the request completes with its output.
    fn run(&mut self) {
        let (output, text) = data::run(&self.action, &self.input);
        self.status = "completed";
        self.output = Some(output);
        self.display_text = Some(text);
        self.error = None;
    }
}

/// A call body as the gateway decodes it: `application/json`, one JSON
/// object, and no field outside `known`.
fn strict_body(headers: &HeaderMap, body: &[u8], known: &[&str]) -> Option<Map<String, Value>> {
    let json_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == "application/json");
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    (json_type && fields.keys().all(|k| known.contains(&k.as_str()))).then_some(fields)
}

/// The gateway accepts only local Host headers: `localhost`, an IPv4
/// loopback address or `[::1]`, with an optional port from 1 to 65535.
fn local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (name, port) = match host.strip_prefix("[::1]") {
        Some("") => ("[::1]", None),
        Some(rest) => match rest.strip_prefix(':') {
            Some(port) => ("[::1]", Some(port)),
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let name_ok = name == "[::1]"
        || name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    port_ok && name_ok
}

/// A query parameter, form-decoded.
fn url_query(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn redirect_response(location: &str) -> Response<Full<Bytes>> {
    let mut response = json_response(302, &json!({"moved_to": location}));
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

fn raw_response(status: u16, headers: &[(String, String)], body: &[u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_vec())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut text = body.to_string();
    text.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("valid"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        "no-store, private".parse().expect("valid"),
    );
    headers.insert("x-content-type-options", "nosniff".parse().expect("valid"));
    response
}

fn plain_response(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    response
}
