//! The `aipermission:bridge` component: the tool catalog and the tool
//! calls, run by the host in a fresh sandboxed instance per call, and the
//! client config renderers behind `init` and `doctor` (`config.rs`).
//!
//! The logic lives in `aipermission-core`; this crate binds it to the WIT
//! world and to the one capability the host grants, HTTP to the gateway
//! origin (see `gateway.rs`).

mod config;
mod gateway;

use aipermission_core::args::{self, GatewayRequest};
use aipermission_core::catalog::{self, ToolName};
use aipermission_core::envelope::Envelope;
use aipermission_core::outcome::{self, ToolResult};
use serde_json::Value;

use exports::aipermission::bridge::tools::{
    Annotations, CallContext, CallResult, Guest, TokenState, Tool,
};

wit_bindgen::generate!({
    path: "../wit",
    world: "bridge",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
    },
});

struct Bridge;

impl Guest for Bridge {
    fn list_tools() -> Vec<Tool> {
        catalog::ALL
            .iter()
            .map(|name| {
                let tool = name.describe();
                let hints = tool.annotations;
                Tool {
                    name: name.as_str().to_owned(),
                    description: tool.description.to_owned(),
                    input_schema: tool.input_schema.to_string(),
                    output_schema: None,
                    annotations: Annotations {
                        read_only: hints.read_only,
                        destructive: hints.destructive,
                        idempotent: hints.idempotent,
                        open_world: hints.open_world,
                    },
                }
            })
            .collect()
    }

    fn call_tool(name: String, arguments: String, context: CallContext) -> CallResult {
        into_wit(call(&name, &arguments, &context))
    }
}

/// Runs one tool call: checks the arguments, then the configuration, then
/// sends the one gateway request and shapes its answer.
fn call(name: &str, arguments: &str, context: &CallContext) -> ToolResult {
    let Some(tool) = ToolName::parse(name) else {
        return ToolResult::error(Envelope::error(format!("Unknown tool: {name}")));
    };
    let request = match parse_arguments(tool, arguments) {
        Ok(request) => request,
        Err(result) => return result,
    };

    // The same order as the Node bridge: URL, then token, then the request.
    let authority = context
        .gateway_origin
        .as_deref()
        .and_then(|origin| origin.strip_prefix("http://"));
    let Some(authority) = authority else {
        return outcome::invalid_url();
    };
    match context.token {
        TokenState::Missing => return outcome::missing_token(),
        TokenState::Invalid => return outcome::invalid_request_configuration(),
        TokenState::Present => {}
    }

    match gateway::send(authority, &request, context.timeout_ms) {
        Ok(answer) => outcome::from_answer(
            &request,
            answer.status,
            answer.retry_after.as_deref(),
            &answer.body,
        ),
        Err(failure) => outcome::from_failure(&request, &failure),
    }
}

fn parse_arguments(tool: ToolName, arguments: &str) -> Result<GatewayRequest, ToolResult> {
    let args: Value = serde_json::from_str(arguments).map_err(|_| {
        let err = args::ArgError {
            field: "arguments",
            problem: "must be a JSON object",
        };
        outcome::invalid_arguments(tool, &err)
    })?;
    args::prepare(tool, &args).map_err(|err| outcome::invalid_arguments(tool, &err))
}

fn into_wit(result: ToolResult) -> CallResult {
    let rendered = result.render();
    CallResult {
        text: rendered.text,
        structured: rendered.structured,
        is_error: result.is_error,
    }
}

// Exported only in the component: a native build of this crate (as
// `cargo build --workspace` makes) cannot link the component's export names.
#[cfg(target_arch = "wasm32")]
export!(Bridge);
