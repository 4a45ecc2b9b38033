//! `aipermission-mcp audit`: what the embedded component is and what it
//! can do. Prints its SHA-256, its world, every import and export, and for
//! each import the authority this host grants through it, plus the limits
//! of a call; `--json` prints the same as a stable document.
//!
//! The allowlist below is written by hand, not read from the component: a
//! test keeps the embedded component's imports equal to it, so a new
//! import is a reviewed change. `audit --component FILE` checks another
//! component against the same list (it is compiled to read its types,
//! never instantiated or run) and fails, naming the import, when it asks
//! for anything else.

use std::path::Path;

use aipermission_core::origin;
use aipermission_core::outcome::MAX_RESPONSE_BYTES;
use aipermission_core::settings::{TIMEOUT_VAR, parse_timeout_ms};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::runtime::{COMPONENT, DEADLINE_MARGIN, MEMORY_BUDGET_BYTES, MEMORY_CAP_BYTES, engine};

/// The world the embedded component is built for (`wit/world.wit`).
const WORLD: &str = "aipermission:bridge/bridge@0.1.0";

/// Every interface a component may import from this host, without its
/// version (any 0.2.x), and the authority the host grants through it.
/// `{origin}` stands for the configured gateway origin. Files, sockets and
/// name lookup are not on the list: the component never asks for them.
const ALLOWLIST: [(&str, &str); 17] = [
    (
        "wasi:http/outgoing-handler",
        "outgoing HTTP only to {origin}, connected to loopback addresses the host picks; \
         the host sets Host and adds the bearer token; no proxy, no redirect",
    ),
    (
        "wasi:http/types",
        "the types of those requests and responses; no server",
    ),
    (
        "wasi:clocks/monotonic-clock",
        "a monotonic clock, for deadlines",
    ),
    ("wasi:io/error", "error values of streams"),
    ("wasi:io/poll", "waiting on its own requests and timers"),
    (
        "wasi:io/streams",
        "streams of its own requests; stdout and stderr as below",
    ),
    (
        "wasi:cli/environment",
        "environment: empty, so the component holds no token \
         (the settings come in each call's context); arguments: none",
    ),
    ("wasi:cli/exit", "exit: ends only the call's own instance"),
    ("wasi:cli/stdin", "stdin: empty"),
    (
        "wasi:cli/stdout",
        "stdout: captured for the host's log (64 KiB), never the MCP channel",
    ),
    (
        "wasi:cli/stderr",
        "stderr: captured for the host's log (64 KiB)",
    ),
    ("wasi:cli/terminal-input", "terminal: none"),
    ("wasi:cli/terminal-output", "terminal: none"),
    ("wasi:cli/terminal-stdin", "terminal: none"),
    ("wasi:cli/terminal-stdout", "terminal: none"),
    ("wasi:cli/terminal-stderr", "terminal: none"),
    (
        "wasi:random/insecure-seed",
        "an insecure random seed (hash-map keys)",
    ),
];

/// Runs `audit`.
pub fn run(json_output: bool, component_file: Option<&Path>) -> Result<()> {
    let engine = engine()?;
    let (bytes, source) = match component_file {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            (bytes, path.display().to_string())
        }
        None => (COMPONENT.to_vec(), "embedded".to_owned()),
    };
    let report = report(&engine, &bytes, &source, component_file.is_none())?;

    if json_output {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    let outside: Vec<&str> = report["imports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|import| import["authority"].is_null())
        .filter_map(|import| import["name"].as_str())
        .collect();
    if !outside.is_empty() {
        bail!(
            "the component imports what this host does not grant: {}",
            outside.join(", ")
        );
    }
    Ok(())
}

/// The audit as a JSON document.
fn report(engine: &Engine, bytes: &[u8], source: &str, embedded: bool) -> Result<Value> {
    let component = Component::new(engine, bytes)
        .map_err(|err| err.context("not a component this host can load"))?;
    let ty = component.component_type();
    let origin = configured_origin();

    let imports: Vec<Value> = ty
        .imports(engine)
        .map(|(name, item)| {
            let authority = authority(name).map(|text| text.replace("{origin}", &origin));
            json!({"name": name, "functions": functions(engine, &item.ty), "authority": authority})
        })
        .collect();
    let exports: Vec<Value> = ty
        .exports(engine)
        .map(|(name, item)| json!({"name": name, "functions": functions(engine, &item.ty)}))
        .collect();

    let timeout = parse_timeout_ms(std::env::var(TIMEOUT_VAR).ok().as_deref()).ok();
    let deadline = timeout.map(|ms| u64::from(ms) + DEADLINE_MARGIN.as_millis() as u64);
    Ok(json!({
        "component": {
            "source": source,
            "sha256": hex(&Sha256::digest(bytes)),
            "bytes": bytes.len(),
            "world": if embedded { Value::from(WORLD) } else { Value::Null },
        },
        "exports": exports,
        "imports": imports,
        "limits": {
            "memory_bytes_per_call": MEMORY_CAP_BYTES,
            "memory_bytes_all_calls": MEMORY_BUDGET_BYTES,
            "deadline_ms": deadline,
            "response_body_bytes": MAX_RESPONSE_BYTES,
        },
    }))
}

/// The authority granted through an import, if it is allowed at all.
fn authority(import: &str) -> Option<&'static str> {
    let (interface, version) = import.split_once('@').unwrap_or((import, ""));
    if !version.starts_with("0.2.") {
        return None;
    }
    ALLOWLIST
        .iter()
        .find(|(name, _)| *name == interface)
        .map(|(_, authority)| *authority)
}

/// The origin the host would allow, for the report.
fn configured_origin() -> String {
    let raw = std::env::var("AIPERMISSION_API_URL").ok();
    match origin::parse_gateway_url(raw.as_deref()) {
        Ok(origin) => origin.to_string(),
        Err(_) => "nowhere (AIPERMISSION_API_URL is refused)".to_owned(),
    }
}

/// The functions of an imported or exported instance.
fn functions(engine: &Engine, item: &ComponentItem) -> Vec<String> {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .filter(|(_, export)| matches!(export.ty, ComponentItem::ComponentFunc(_)))
            .map(|(name, _)| name.to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

fn print_text(report: &Value) {
    let component = &report["component"];
    println!("aipermission-mcp {} audit", env!("CARGO_PKG_VERSION"));
    println!(
        "component  {} ({} bytes)",
        component["source"].as_str().unwrap_or(""),
        component["bytes"]
    );
    println!("sha256     {}", component["sha256"].as_str().unwrap_or(""));
    if let Some(world) = component["world"].as_str() {
        println!("world      {world}");
    }
    println!("\nexports");
    for export in report["exports"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            export["name"].as_str().unwrap_or(""),
            list(&export["functions"])
        );
    }
    println!("\nimports, and the authority this host grants through each");
    for import in report["imports"].as_array().into_iter().flatten() {
        let authority = import["authority"]
            .as_str()
            .unwrap_or("NOT GRANTED by this host");
        println!(
            "  {}\n      {authority}",
            import["name"].as_str().unwrap_or("")
        );
    }
    let limits = &report["limits"];
    println!("\nlimits");
    println!(
        "  memory   {} MiB per call, {} MiB for all calls in flight",
        limits["memory_bytes_per_call"].as_u64().unwrap_or(0) >> 20,
        limits["memory_bytes_all_calls"].as_u64().unwrap_or(0) >> 20
    );
    match limits["deadline_ms"].as_u64() {
        Some(ms) => println!(
            "  deadline {ms} ms per call ({TIMEOUT_VAR} + {} ms)",
            DEADLINE_MARGIN.as_millis()
        ),
        None => println!("  deadline none: {TIMEOUT_VAR} is invalid, so serve would not start"),
    }
    println!(
        "  body     {} MiB per gateway answer",
        limits["response_body_bytes"].as_u64().unwrap_or(0) >> 20
    );
}

fn list(functions: &Value) -> String {
    let names: Vec<&str> = functions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    names.join(", ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_embedded_component_imports_exactly_the_allowlist() {
        let engine = engine().unwrap();
        let component = Component::new(&engine, COMPONENT).unwrap();
        let ty = component.component_type();
        let imported: BTreeSet<&str> = ty
            .imports(&engine)
            .map(|(name, _)| {
                name.split_once('@')
                    .map_or(name, |(interface, _)| interface)
            })
            .collect();
        let granted: BTreeSet<&str> = ALLOWLIST.iter().map(|(name, _)| *name).collect();
        let missing: Vec<_> = granted.difference(&imported).collect();
        let extra: Vec<_> = imported.difference(&granted).collect();
        assert!(extra.is_empty(), "imports outside the allowlist: {extra:?}");
        assert!(
            missing.is_empty(),
            "allowlisted but not imported (trim the list): {missing:?}"
        );
    }

    #[test]
    fn unknown_and_foreign_versions_are_not_granted() {
        assert!(authority("wasi:http/outgoing-handler@0.2.12").is_some());
        assert!(authority("wasi:http/outgoing-handler@0.3.0").is_none());
        assert!(authority("wasi:keyvalue/store@0.2.0").is_none());
        assert!(authority("evil:net/raw").is_none());
        assert!(authority("wasi:sockets/tcp@0.2.12").is_none());
        assert!(authority("wasi:filesystem/preopens@0.2.12").is_none());
    }
}
