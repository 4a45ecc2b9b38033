//! `just bench`: what the bridge costs, measured against the stand-in
//! gateway. Starts the given `aipermission-mcp` binary many times and
//! talks raw JSON-RPC over its stdio, so the numbers include only the
//! server: start-up to the `initialize` answer (compiled-component cache
//! cold and warm), to the first `tools/call` result, per-call latency of
//! `list_connector_targets` and of a completed `call_connector_action`
//! beside the same requests sent directly over one keep-alive HTTP
//! connection (the floor), throughput with 16 calls in flight, peak RSS
//! after the calls, and the sizes of the binary and the component.
//!
//! Usage: bench BINARY [--iterations N] [--json FILE]
//! `--iterations 1` is the smoke CI runs so the harness cannot rot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aipermission_testkit::StandIn;
use anyhow::{Context, Result, bail, ensure};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, oneshot};

/// A token for the stand-in; never printed.
const TOKEN: &str = "aip_bench_token_7c1d";

/// Calls in flight for the throughput run.
const IN_FLIGHT: usize = 16;

struct Options {
    binary: PathBuf,
    iterations: usize,
    json: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let mut args = std::env::args_os().skip(1);
    let binary = args
        .next()
        .context("usage: bench BINARY [--iterations N] [--json FILE]")?;
    let mut options = Options {
        binary: binary.into(),
        iterations: 50,
        json: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().context("a flag without its value")?;
        match flag.to_str() {
            Some("--iterations") => options.iterations = value.to_string_lossy().parse()?,
            Some("--json") => options.json = Some(value.into()),
            _ => bail!("unknown flag {flag:?}"),
        }
    }
    ensure!(options.iterations >= 1, "--iterations must be at least 1");
    Ok(options)
}

/// One running server and the answers it sends, by request id.
struct Server {
    child: Child,
    stdin: ChildStdin,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    next_id: AtomicU64,
}

impl Server {
    fn start(binary: &Path, url: &str, cache: &Path) -> Result<Server> {
        let mut child = Command::new(binary)
            .arg("serve")
            .env("AIPERMISSION_API_URL", url)
            .env("AIPERMISSION_API_TOKEN", TOKEN)
            .env("XDG_CACHE_HOME", cache)
            .env_remove("AIPERMISSION_HTTP_TIMEOUT_MS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let routes = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(id) = message["id"].as_u64()
                    && let Some(reply) = routes.lock().await.remove(&id)
                {
                    let _ = reply.send(message);
                }
            }
        });
        Ok(Server {
            child,
            stdin,
            pending,
            next_id: AtomicU64::new(1),
        })
    }

    /// Sends a request and waits for its answer.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        let answer = self.send(method, params).await?;
        let answer = answer.await.context("the server closed before answering")?;
        ensure!(
            answer.get("error").is_none(),
            "{method} failed: {}",
            answer["error"]
        );
        Ok(answer["result"].clone())
    }

    /// Sends a request; the receiver gets its answer.
    async fn send(&mut self, method: &str, params: Value) -> Result<oneshot::Receiver<Value>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id, tx);
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(rx)
    }

    async fn initialize(&mut self) -> Result<()> {
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "bench", "version": "1"}});
        self.request("initialize", params).await?;
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.stdin.write_all(format!("{note}\n").as_bytes()).await?;
        Ok(())
    }

    /// Peak resident memory so far, from /proc (Linux).
    fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

fn list_targets() -> Value {
    json!({"name": "list_connector_targets", "arguments": {}})
}

fn query(key: &str) -> Value {
    json!({"name": "call_connector_action", "arguments": {
        "target_ref": "postgres:7:11", "action_name": "query_readonly",
        "input": {"sql": "select 1"}, "reason": "Benchmark.", "idempotency_key": key}})
}

/// Checks a `tools/call` result completed without error.
fn completed(result: &Value) -> Result<()> {
    ensure!(
        result["isError"] != json!(true),
        "the call failed: {result}"
    );
    Ok(())
}

/// Median and 99th percentile, in microseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99))
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let n = options.iterations;
    let gateway = StandIn::start(TOKEN).await?;
    let url = gateway.url();
    let scratch = std::env::temp_dir().join(format!("aipermission-bench-{}", std::process::id()));
    let warm_cache = scratch.join("warm");
    std::fs::create_dir_all(&warm_cache)?;
    let mut report = serde_json::Map::new();

    // Start-up, cache cold: a fresh cache directory every time.
    let mut cold = Vec::new();
    for i in 0..n.min(5) {
        let cache = scratch.join(format!("cold-{i}"));
        std::fs::create_dir_all(&cache)?;
        let started = Instant::now();
        let mut server = Server::start(&options.binary, &url, &cache)?;
        server.initialize().await?;
        cold.push(started.elapsed());
    }
    // Fill the warm cache once, then measure warm starts.
    Server::start(&options.binary, &url, &warm_cache)?
        .initialize()
        .await?;
    let (mut warm, mut first_call) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let started = Instant::now();
        let mut server = Server::start(&options.binary, &url, &warm_cache)?;
        server.initialize().await?;
        warm.push(started.elapsed());
        completed(&server.request("tools/call", list_targets()).await?)?;
        first_call.push(started.elapsed());
    }

    // Per-call latency in one session, and the same requests over HTTP.
    let mut server = Server::start(&options.binary, &url, &warm_cache)?;
    server.initialize().await?;
    let calls = (n * 10).max(20);
    let mut list = Vec::new();
    let mut call = Vec::new();
    for i in 0..calls {
        let started = Instant::now();
        completed(&server.request("tools/call", list_targets()).await?)?;
        list.push(started.elapsed());
        let started = Instant::now();
        completed(
            &server
                .request("tools/call", query(&format!("lat-{i}")))
                .await?,
        )?;
        call.push(started.elapsed());
    }
    let (direct_list, direct_call) = direct(&gateway, calls).await?;

    // Throughput: 2,000 calls (fewer in the smoke), 16 in flight.
    let total = if n == 1 { 64 } else { 2_000 };
    let started = Instant::now();
    let mut flying = std::collections::VecDeque::new();
    for i in 0..total {
        let params = if i % 2 == 0 {
            list_targets()
        } else {
            query(&format!("tp-{i}"))
        };
        flying.push_back(server.send("tools/call", params).await?);
        if flying.len() == IN_FLIGHT {
            let answer = flying.pop_front().unwrap().await?;
            completed(&answer["result"])?;
        }
    }
    for answer in flying {
        completed(&answer.await?["result"])?;
    }
    let throughput = total as f64 / started.elapsed().as_secs_f64();
    let rss = server.peak_rss_kib();

    let binary_size = std::fs::metadata(&options.binary)?.len();
    let audit = std::process::Command::new(&options.binary)
        .args(["audit", "--json"])
        .output()?;
    let audit: Value = serde_json::from_slice(&audit.stdout)?;
    let component_size = audit["component"]["bytes"].as_u64().unwrap_or(0);
    let _ = std::fs::remove_dir_all(&scratch);

    let ms = |d: &[Duration]| percentiles(d.to_vec()).0 / 1000.0;
    let mut table: Vec<(String, String, Value)> = Vec::new();
    let mut row = |name: &str, shown: String, value: Value| {
        table.push((name.to_owned(), shown, value));
    };
    for (name, samples) in [
        ("initialize, cache cold (median)", &cold),
        ("initialize, cache warm (median)", &warm),
        ("first tools/call result (median)", &first_call),
    ] {
        row(name, format!("{:.1} ms", ms(samples)), json!(ms(samples)));
    }
    for (name, via_bridge, floor) in [
        ("list_connector_targets", list, direct_list),
        ("call_connector_action (completed)", call, direct_call),
    ] {
        let (p50, p99) = percentiles(via_bridge);
        let (f50, f99) = percentiles(floor);
        row(
            &format!("{name}: bridge p50 / p99"),
            format!("{p50:.0} / {p99:.0} µs"),
            json!({"p50_us": p50, "p99_us": p99}),
        );
        row(
            &format!("{name}: direct HTTP p50 / p99"),
            format!("{f50:.0} / {f99:.0} µs"),
            json!({"p50_us": f50, "p99_us": f99}),
        );
        row(
            &format!("{name}: added by the bridge (p50)"),
            format!("{:.0} µs", p50 - f50),
            json!(p50 - f50),
        );
    }
    row(
        "throughput, 16 in flight",
        format!("{throughput:.0} calls/s ({total} calls)"),
        json!(throughput),
    );
    let rss_mib = rss.map(|k| k as f64 / 1024.0);
    let shown = rss_mib.map_or("n/a".into(), |m| format!("{m:.1} MiB"));
    row("peak RSS after the calls", shown, json!(rss_mib));
    let mib = binary_size as f64 / 1048576.0;
    row("binary size", format!("{mib:.1} MiB"), json!(binary_size));
    let kib = component_size as f64 / 1024.0;
    row(
        "component size",
        format!("{kib:.0} KiB"),
        json!(component_size),
    );

    println!(
        "aipermission-mcp bench ({} iterations, {})",
        n,
        options.binary.display()
    );
    for (name, shown, value) in &table {
        println!("  {name:<52} {shown}");
        report.insert(name.clone(), value.clone());
    }
    if let Some(path) = options.json {
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
    }
    Ok(())
}

/// The same two requests the bridge sends, over one keep-alive HTTP/1
/// connection: the best a caller of the gateway can do.
async fn direct(gateway: &StandIn, calls: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let stream = tokio::net::TcpStream::connect(gateway.addr()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let host = gateway.addr().to_string();
    let mut send = async |method: &str, path: &str, body: String| -> Result<Duration> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &host)
            .header("authorization", format!("Bearer {TOKEN}"));
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Full::new(bytes::Bytes::from(body)))?;
        sender.ready().await?;
        let started = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        let _ = response.into_body().collect().await?.to_bytes();
        ensure!(status.is_success(), "direct request failed: {status}");
        Ok(started.elapsed())
    };
    let (mut list, mut call) = (Vec::new(), Vec::new());
    for i in 0..calls {
        list.push(send("GET", "/api/mcp/connector-targets", String::new()).await?);
        let body = json!({"target_ref": "postgres:7:11", "action_name": "query_readonly",
            "input": {"sql": "select 1"}, "reason": "Benchmark.",
            "idempotency_key": format!("direct-{i}")});
        call.push(send("POST", "/api/mcp/connector-actions/call", body.to_string()).await?);
    }
    Ok((list, call))
}
