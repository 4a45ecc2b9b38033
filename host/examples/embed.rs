//! A wasmtime host of its own that embeds the aipermission:bridge
//! component and calls its typed tools, with none of aipermission-mcp's
//! policy: it grants the component the three AIPERMISSION_* variables of
//! its own environment and outgoing HTTP to the gateway origin, and
//! sends the requests with plain hyper.
//!
//! cargo run -p aipermission-mcp --example embed -- COMPONENT.wasm [TARGET_REF]
//!
//! Prints the targets, then the actions of TARGET_REF (default: the first
//! target). A failed call prints its error envelope on stderr and exits 1.

use anyhow::{Context, Result, anyhow};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView};
use wasmtime_wasi_http::{WasiHttpHooks, WasiHttpView};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "bridge",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
    },
});

use exports::aipermission::bridge::typed_tools::ErrorEnvelope;

const GRANTED: [&str; 3] = [
    "AIPERMISSION_API_URL",
    "AIPERMISSION_API_TOKEN",
    "AIPERMISSION_HTTP_TIMEOUT_MS",
];

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Sender,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Sends each request on a new connection, to a loopback name on the
/// granted port only. (The component normalises the URL itself, so the
/// host checks where a request goes, not how the URL was spelled.)
struct Sender {
    port: Option<u16>,
}

impl Sender {
    fn grants(&self, uri: &http::Uri) -> bool {
        let loopback = matches!(uri.host(), Some("localhost" | "127.0.0.1" | "[::1]"));
        loopback && uri.scheme_str() == Some("http") && uri.port_u16().or(Some(80)) == self.port
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for Sender {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _errors: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send> {
        let granted = self.grants(request.uri());
        let authority = request.uri().authority().map(|a| a.to_string());
        Box::new(async move {
            let Some(authority) = authority.filter(|_| granted) else {
                return Err(Error::HttpRequestDenied);
            };
            // On one connection the request names its path alone, and Host.
            let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
            *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
            let host = authority
                .parse()
                .map_err(|_| Error::HttpRequestUriInvalid)?;
            request.headers_mut().insert(http::header::HOST, host);
            let tcp = tokio::net::TcpStream::connect(authority.as_str())
                .await
                .map_err(|_| Error::ConnectionRefused)?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|_| Error::HttpProtocolError)?;
            tokio::spawn(connection);
            let response = sender
                .send_request(request)
                .await
                .map_err(|_| Error::HttpProtocolError)?;
            let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .context("usage: embed COMPONENT.wasm [TARGET_REF]")?;
    let wanted = args.next();

    let engine = Engine::default();
    let component = Component::from_file(&engine, &path)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;

    let mut wasi = WasiCtx::builder();
    for name in GRANTED {
        if let Ok(value) = std::env::var(name) {
            wasi.env(name, value);
        }
    }
    let url = std::env::var(GRANTED[0]).unwrap_or_default();
    let url = Some(url.trim()).filter(|u| !u.is_empty());
    let url: Option<http::Uri> = url.unwrap_or("http://localhost:3210").parse().ok();
    let state = State {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: Sender {
            port: url.map(|u| u.port_u16().unwrap_or(80)),
        },
    };
    let mut store = Store::new(&engine, state);
    let bridge = Bridge::instantiate_async(&mut store, &component, &linker).await?;
    let tools = bridge.aipermission_bridge_typed_tools();

    let targets = tools.call_list_connector_targets(&mut store).await?;
    let targets = targets.map_err(failed)?;
    for target in &targets {
        let kind = target.connector_kind.as_deref().unwrap_or("?");
        println!("target {} ({kind})", target.target_ref);
    }
    let Some(target_ref) = wanted.or_else(|| targets.first().map(|t| t.target_ref.clone())) else {
        return Ok(());
    };
    let actions = tools
        .call_get_connector_actions(&mut store, &target_ref)
        .await?
        .map_err(failed)?;
    for action in actions {
        println!(
            "action {target_ref} {} ({})",
            action.name, action.retry_policy.class
        );
    }
    Ok(())
}

/// The error envelope as the program's error: status, code and message.
fn failed(envelope: ErrorEnvelope) -> anyhow::Error {
    let code = envelope.code.as_deref().unwrap_or("-");
    anyhow!("{} [{code}]: {}", envelope.status, envelope.error)
}
