//! Runs the embedded component under wasmtime: one engine and one
//! pre-linked component for the process, and a fresh store and instance
//! for every tool call, with a memory cap and a wall-clock deadline.
//!
//! The component gets WASI with nothing in it (no preopens, no
//! environment, no arguments, no sockets, no stdin) and wasi:http through
//! the egress policy of `egress.rs`. Its stdout and stderr are captured
//! and go to the host's log, never to the protocol's stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::cache;
use crate::egress::{Hooks, Policy};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "bridge",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

use exports::aipermission::bridge::tools::Interruption;
pub use exports::aipermission::bridge::tools::{CallContext, CallResult, TokenState, Tool};

/// The component, built from `guest/` by `build.rs`.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/aipermission_bridge.wasm"));

/// Linear memory one call may use. The largest answer the component reads
/// is 8 MiB; the worst case is one made of `[],` elements, three bytes per
/// JSON value of ~48 bytes on wasm32, held in vectors that grow by
/// doubling. Parsed and printed, it peaked at 410 MB (measured with the
/// `component memory grows` trace). The cap leaves 2.5 times that and
/// still stops a runaway call long before it hurts the machine.
pub const MEMORY_CAP_BYTES: usize = 1024 * 1024 * 1024;

/// Time the host adds to the configured HTTP timeout before it stops a
/// call itself, so the component's own deadline always answers first and
/// has time to shape its result.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// How often the epoch advances. A running call yields to the scheduler at
/// every tick, so the wall-clock deadline can stop even a call that never
/// waits on I/O.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of stdout and of stderr kept from one call for the log: the
/// component writes nothing there on its own, so anything is a diagnostic.
const GUEST_OUTPUT_CAP: usize = 64 * 1024;

/// Deadline for the calls that do no I/O: listing the tools at start and
/// shaping the result of a stopped call.
const NO_IO_DEADLINE: Duration = Duration::from_secs(2);

/// The engine, the pre-linked component and the per-call settings.
pub struct Runtime {
    engine: Engine,
    pre: BridgePre<CallState>,
    policy: Arc<Policy>,
    context: CallContext,
    deadline: Duration,
    tools: Vec<Tool>,
}

/// What one call's store holds.
struct CallState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    memory: MemoryCap,
    /// The component's stdout and stderr, kept for the log.
    output: [MemoryOutputPipe; 2],
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Refuses memory growth past the cap and remembers that it did, so a
/// failed call can be reported as out of memory rather than as a trap.
struct MemoryCap {
    exhausted: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= MEMORY_CAP_BYTES;
        tracing::trace!(bytes = desired, allowed, "component memory grows");
        self.exhausted |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; the component needs a handful.
        Ok(desired <= 100_000)
    }
}

impl Runtime {
    /// Compiles and links the embedded component and reads its catalog.
    pub async fn new(policy: Policy, context: CallContext) -> Result<Runtime> {
        let engine = engine()?;
        let component =
            cache::load_or_compile(&engine, COMPONENT, cache::default_dir().as_deref())?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = BridgePre::new(linker.instantiate_pre(&component)?)?;

        start_epoch_ticker(&engine);
        let deadline = Duration::from_millis(u64::from(context.timeout_ms)) + DEADLINE_MARGIN;
        let mut runtime = Runtime {
            engine,
            pre,
            policy: Arc::new(policy),
            context,
            deadline,
            tools: Vec::new(),
        };
        runtime.tools = runtime.list_tools().await?;
        Ok(runtime)
    }

    /// The tool catalog, read once at start.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    async fn list_tools(&self) -> Result<Vec<Tool>> {
        let (mut store, _) = self.store();
        let run = async {
            let bridge = self.pre.instantiate_async(&mut store).await?;
            bridge
                .aipermission_bridge_tools()
                .call_list_tools(&mut store)
                .await
        };
        match tokio::time::timeout(NO_IO_DEADLINE, run).await {
            Ok(tools) => Ok(tools?),
            Err(_) => anyhow::bail!("the component did not list its tools in time"),
        }
    }

    /// Runs one tool call in a fresh instance. Never fails: a trap, the
    /// memory cap or the deadline become an error result.
    pub async fn call(&self, name: &str, arguments: &str) -> CallResult {
        let (mut store, dispatched) = self.store();
        let outcome = {
            let run = async {
                let bridge = self.pre.instantiate_async(&mut store).await?;
                let tools = bridge.aipermission_bridge_tools();
                tools
                    .call_call_tool(&mut store, name, arguments, &self.context)
                    .await
            };
            tokio::time::timeout(self.deadline, run).await
        };
        log_guest_output(&store);

        let cause = match outcome {
            Ok(Ok(result)) => return result,
            Ok(Err(trap)) if store.data().memory.exhausted => {
                tracing::warn!(tool = name, error = %format!("{trap:#}"), "call ran out of memory");
                Interruption::Memory
            }
            Ok(Err(trap)) => {
                tracing::warn!(tool = name, error = %format!("{trap:#}"), "call trapped");
                Interruption::Trap
            }
            Err(_) => {
                let deadline = self.deadline;
                tracing::warn!(tool = name, ?deadline, "call ran past its deadline");
                Interruption::Deadline
            }
        };
        let dispatched = dispatched.load(Ordering::SeqCst);
        self.interrupted(name, arguments, cause, dispatched).await
    }

    /// Asks a fresh instance to shape the result of a stopped call, so the
    /// envelope comes from the same code as every other result.
    async fn interrupted(
        &self,
        name: &str,
        arguments: &str,
        cause: Interruption,
        dispatched: bool,
    ) -> CallResult {
        let (mut store, _) = self.store();
        let run = async {
            let bridge = self.pre.instantiate_async(&mut store).await?;
            let tools = bridge.aipermission_bridge_tools();
            tools
                .call_interrupted_result(&mut store, name, arguments, cause, dispatched)
                .await
        };
        match tokio::time::timeout(NO_IO_DEADLINE, run).await {
            Ok(Ok(result)) => result,
            _ => fallback_result(cause),
        }
    }

    /// A store with an empty WASI context, the egress hooks and the caps.
    fn store(&self) -> (Store<CallState>, Arc<AtomicBool>) {
        let dispatched = Arc::new(AtomicBool::new(false));
        let output = [(); 2].map(|()| MemoryOutputPipe::new(GUEST_OUTPUT_CAP));
        let wasi = WasiCtx::builder()
            .stdout(output[0].clone())
            .stderr(output[1].clone())
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        let state = CallState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: Hooks::new(Arc::clone(&self.policy), Arc::clone(&dispatched)),
            memory: MemoryCap { exhausted: false },
            output,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        // Yield at every epoch tick; the deadline above does the stopping.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        (store, dispatched)
    }
}

/// The last resort when even shaping a stopped call's result failed.
fn fallback_result(cause: Interruption) -> CallResult {
    let what = match cause {
        Interruption::Deadline => "its wall-clock deadline",
        Interruption::Memory => "its memory limit",
        Interruption::Trap => "a trap in its sandbox",
    };
    let envelope = serde_json::json!({
        "status": "error",
        "code": "bridge_call_interrupted",
        "error": format!("The bridge stopped the call: {what}."),
    });
    CallResult {
        text: serde_json::to_string_pretty(&envelope).unwrap_or_default(),
        structured: Some(envelope.to_string()),
        is_error: true,
    }
}

/// Passes anything the component wrote to stdout or stderr to the log.
fn log_guest_output(store: &Store<CallState>) {
    for (stream, pipe) in ["stdout", "stderr"].iter().zip(&store.data().output) {
        let bytes = pipe.contents();
        if !bytes.is_empty() {
            let text = String::from_utf8_lossy(&bytes);
            tracing::warn!(stream, output = %text.trim_end(), "the component wrote output");
        }
    }
}

/// The engine every component of this process runs on. The compiled-code
/// cache is keyed by its configuration, so this is the one place to set it.
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Ok(Engine::new(&config)?)
}

/// Advances the engine's epoch for the life of the process.
fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("failed to start the epoch ticker thread");
}
