//! Runs the embedded component under wasmtime: one engine and one
//! pre-linked component for the process, and a fresh store and instance
//! for every tool call, with a memory cap and a wall-clock deadline.
//!
//! The component gets WASI with nothing in it (no preopens, no
//! environment, no arguments, no sockets, no stdin) and wasi:http through
//! the egress policy of `egress.rs`. Its stdout and stderr are captured
//! and go to the host's log, never to the protocol's stdout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aipermission_core::args;
use aipermission_core::catalog::ToolName;
use aipermission_core::outcome::{self, Interruption};
use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
};
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
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
    },
});

pub use exports::aipermission::bridge::config;
pub use exports::aipermission::bridge::tools::{CallContext, CallResult, TokenState, Tool};

/// The component, built from `guest/` by `build.rs`.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/aipermission_bridge.wasm"));

/// The component's SHA-256 in hex, computed by `build.rs`.
pub const COMPONENT_SHA256: &str = env!("AIPERMISSION_COMPONENT_SHA256");

/// Linear memory one call may use. The largest answer the component reads
/// is 8 MiB; the worst case is one made of `[],` elements, three bytes per
/// JSON value of ~48 bytes on wasm32, held in vectors that grow by
/// doubling. Parsed and printed, it peaked at 410 MB (measured with the
/// `component memory grows` trace). The cap leaves 2.5 times that and
/// still stops a runaway call long before it hurts the machine.
pub const MEMORY_CAP_BYTES: usize = 1024 * 1024 * 1024;

/// Linear memory all calls in flight may use together. An ordinary call
/// takes a few MiB, so this only binds when several worst-case answers
/// arrive at once; a call that would pass it fails as out of memory rather
/// than the process being killed with every call in it.
pub const MEMORY_BUDGET_BYTES: usize = 2 * 1024 * 1024 * 1024;

/// Component instances the pooling allocator keeps slots for. A call
/// holds one while it runs; calls beyond that wait for a slot.
const POOLED_INSTANCES: u32 = 64;

/// Calls that may hold an instance at once, leaving slots for listing
/// the tools and for `config` instances.
const CONCURRENT_CALLS: usize = POOLED_INSTANCES as usize - 4;

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

/// Deadline for listing the tools at start, which does no I/O.
const LIST_DEADLINE: Duration = Duration::from_secs(2);

/// Deadline for one `config` function (text in, text out; a large config
/// file takes milliseconds).
const CONFIG_DEADLINE: Duration = Duration::from_secs(10);

/// The engine, the pre-linked component and the per-call settings.
pub struct Runtime {
    engine: Engine,
    pre: BridgePre<CallState>,
    policy: Arc<Policy>,
    context: CallContext,
    deadline: Duration,
    tools: Vec<Tool>,
    /// Bytes of linear memory held by the calls in flight.
    memory_budget: Arc<AtomicUsize>,
    /// Permits to hold an instance during a call.
    slots: Arc<tokio::sync::Semaphore>,
}

/// What one call's store holds.
pub struct CallState {
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

/// Refuses memory growth past the per-call cap or the shared budget, and
/// remembers that it did, so a failed call can be reported as out of
/// memory rather than as a trap. Gives its share back when the call ends.
struct MemoryCap {
    budget: Arc<AtomicUsize>,
    reserved: usize,
    exhausted: bool,
}

impl Drop for MemoryCap {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.reserved, Ordering::SeqCst);
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let extra = desired.saturating_sub(current);
        let mut allowed = desired <= MEMORY_CAP_BYTES;
        if allowed {
            let before = self.budget.fetch_add(extra, Ordering::SeqCst);
            allowed = before + extra <= MEMORY_BUDGET_BYTES;
            if allowed {
                self.reserved += extra;
            } else {
                self.budget.fetch_sub(extra, Ordering::SeqCst);
            }
        }
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
    /// Loads the embedded component (from the compiled-code cache when it
    /// can), links it and reads its catalog.
    pub async fn new(policy: Policy, context: CallContext) -> Result<Runtime> {
        let cache = cache::default_dir();
        Runtime::with_component(COMPONENT, cache.as_deref(), policy, context).await
    }

    /// The same for any component of the `bridge` world: the integration
    /// tests run hostile components this way, under the production linker
    /// and policy. The binary only ever passes the embedded one.
    pub async fn with_component(
        wasm: &[u8],
        cache: Option<&std::path::Path>,
        policy: Policy,
        context: CallContext,
    ) -> Result<Runtime> {
        let engine = engine()?;
        let component = cache::load_or_compile(&engine, wasm, cache)?;

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
            memory_budget: Arc::new(AtomicUsize::new(0)),
            slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CALLS)),
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
        match tokio::time::timeout(LIST_DEADLINE, run).await {
            Ok(tools) => Ok(tools?),
            Err(_) => anyhow::bail!("the component did not list its tools in time"),
        }
    }

    /// Runs one tool call in a fresh instance. Never fails: a trap, the
    /// memory cap or the deadline become an error result.
    pub async fn call(&self, name: &str, arguments: &str) -> CallResult {
        // A call beyond the pool's slots waits for one, for at most its
        // own deadline; the slot is held until the instance is gone.
        let slot = tokio::time::timeout(self.deadline, self.slots.acquire()).await;
        let Ok(Ok(_slot)) = slot else {
            tracing::warn!(
                tool = name,
                "no instance slot came free before the deadline"
            );
            return interrupted(name, arguments, Interruption::Deadline, false);
        };
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
        interrupted(name, arguments, cause, dispatched.load(Ordering::SeqCst))
    }

    /// An instance for the `config` interface, kept for a whole command
    /// (`init`, `doctor`, …). Make the runtime with a policy that admits
    /// nothing: a rendered config holds the token.
    pub async fn config_instance(&self) -> Result<ConfigInstance> {
        let (mut store, _) = self.store();
        let bridge = self.pre.instantiate_async(&mut store).await?;
        Ok(ConfigInstance { store, bridge })
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
            memory: MemoryCap {
                budget: Arc::clone(&self.memory_budget),
                reserved: 0,
                exhausted: false,
            },
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

/// The component's `config` interface in one instance, with a store that
/// has the same caps as a tool call's.
pub struct ConfigInstance {
    store: Store<CallState>,
    bridge: Bridge,
}

impl ConfigInstance {
    /// Runs one `config` function under the listing deadline; a trap or a
    /// timeout is an error.
    pub async fn run<T>(
        &mut self,
        call: impl AsyncFnOnce(&config::Guest, &mut Store<CallState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let guest = self.bridge.aipermission_bridge_config();
        match tokio::time::timeout(CONFIG_DEADLINE, call(guest, &mut self.store)).await {
            Ok(result) => result.map_err(|trap| anyhow::anyhow!("the component failed: {trap:#}")),
            Err(_) => anyhow::bail!("the component did not answer in time"),
        }
    }
}

/// Shapes the result of a call the host stopped, with the same code the
/// component uses for every other result: when a mutation's request may
/// have reached the gateway, its outcome is unknown and the result echoes
/// the idempotency key.
fn interrupted(name: &str, arguments: &str, cause: Interruption, dispatched: bool) -> CallResult {
    let request = ToolName::parse(name).and_then(|tool| {
        let arguments = serde_json::from_str(arguments).ok()?;
        args::prepare(tool, &arguments).ok()
    });
    let result = outcome::from_interruption(request.as_ref(), cause, dispatched);
    let rendered = result.render();
    CallResult {
        text: rendered.text,
        structured: rendered.structured,
        is_error: result.is_error,
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
///
/// Instances come from a pool: a call reuses a slot whose memory mappings
/// and copy-on-write image are already in place, instead of mapping and
/// unmapping 4 GiB of reservation per call, which costs TLB shootdowns
/// on every thread (`just bench`: about 45 µs less per call and 15% more
/// calls per second). Keeping memory resident between calls saved another
/// 70 µs but more than doubled RSS, so slots are decommitted after use.
///
/// TODO: a call still adds 300–420 µs over a direct HTTP request against
/// a goal of 100 µs, and peak RSS is about 22 MiB against 16 MiB. A
/// profile puts most of the time in thread hand-offs (futex, epoll and
/// task switches between stdin, rmcp, the call and the gateway
/// connection), page faults on each fresh instance's memory and the guest
/// itself; fewer tasks on the call path and resident memory between calls
/// (which costs RSS) are what would reach it. Acceptable for now: it is a
/// third of the Node bridge's 1.3 ms at an eighth of its memory, and every
/// mutation waits on a person's approval.
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES * 8)
        .total_memories(POOLED_INSTANCES * 2)
        .total_tables(POOLED_INSTANCES * 4)
        .total_stacks(POOLED_INSTANCES)
        .max_memory_size(MEMORY_CAP_BYTES);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(err) => {
            // The pool reserves its address space up front; a process
            // limited in virtual memory (`ulimit -v`) cannot have it.
            let error = format!("{err:#}");
            tracing::debug!(error, "no instance pool: allocating instances on demand");
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            Ok(Engine::new(&config)?)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(budget: &Arc<AtomicUsize>) -> MemoryCap {
        MemoryCap {
            budget: Arc::clone(budget),
            reserved: 0,
            exhausted: false,
        }
    }

    #[test]
    fn calls_share_one_memory_budget_and_give_it_back() {
        let budget = Arc::new(AtomicUsize::new(0));
        let (mut a, mut b, mut c) = (cap(&budget), cap(&budget), cap(&budget));
        assert!(
            !a.memory_growing(0, MEMORY_CAP_BYTES + 1, None).unwrap(),
            "over the call cap"
        );
        assert!(a.exhausted);
        assert!(a.memory_growing(0, MEMORY_CAP_BYTES, None).unwrap());
        assert!(
            b.memory_growing(0, MEMORY_BUDGET_BYTES - MEMORY_CAP_BYTES, None)
                .unwrap()
        );
        assert!(
            !c.memory_growing(0, 65_536, None).unwrap(),
            "the budget is spent"
        );
        drop(a);
        assert!(
            c.memory_growing(0, 65_536, None).unwrap(),
            "a finished call gave its share back"
        );
        drop((b, c));
        assert_eq!(budget.load(Ordering::SeqCst), 0);
    }
}
