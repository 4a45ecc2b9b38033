//! The `aipermission:bridge` component: the tool catalog and the tool
//! calls, run by the host in a fresh sandboxed instance per call, the same
//! tools as typed functions for other hosts (`typed.rs`), and the client
//! config renderers behind `init` and `doctor` (`config.rs`).
//!
//! The logic lives in `aipermission-core`; this crate binds it to the WIT
//! world and to the capabilities a host grants: HTTP to the gateway origin
//! (see `gateway.rs`) and, in hosts other than ours, the environment that
//! names that origin and holds the token (see `settings.rs`).

mod config;
mod gateway;
mod settings;
mod typed;

use aipermission_core::args;
use aipermission_core::catalog::{self, ToolName};
use aipermission_core::envelope::Envelope;
use aipermission_core::outcome::{self, ToolResult};
use serde_json::Value;

use exports::aipermission::bridge::tools::{Annotations, CallContext, CallResult, Guest, Tool};
use settings::{Settings, Token};

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
        "wasi:cli/environment@0.2.12": wasip2::cli::environment,
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
        let Some(tool) = ToolName::parse(&name) else {
            let unknown = Envelope::error(format!("Unknown tool: {name}"));
            return into_wit(ToolResult::error(unknown));
        };
        let Ok(args) = serde_json::from_str::<Value>(&arguments) else {
            let err = args::ArgError {
                field: "arguments",
                problem: "must be a JSON object",
            };
            return into_wit(outcome::invalid_arguments(tool, &err));
        };
        let settings = Settings::from_context(&context);
        into_wit(call(tool, &args, &settings))
    }
}

/// Runs one tool call, for both interfaces: checks the arguments, then the
/// configuration, then sends the one gateway request and shapes its
/// answer.
fn call(tool: ToolName, args: &Value, settings: &Settings) -> ToolResult {
    let request = match args::prepare(tool, args) {
        Ok(request) => request,
        Err(err) => return outcome::invalid_arguments(tool, &err),
    };

    // The same order as the Node bridge: URL, then token, then the request.
    let Some(origin) = &settings.origin else {
        return outcome::invalid_url();
    };
    let bearer = match &settings.token {
        Token::Missing => return outcome::missing_token(),
        Token::Invalid => return outcome::invalid_request_configuration(),
        Token::Host => None,
        Token::Bearer(value) => Some(value.as_str()),
    };
    let timeout_ms = match &settings.timeout_ms {
        Ok(ms) => *ms,
        Err(message) => return ToolResult::error(Envelope::error(message.clone())),
    };

    match gateway::send(&origin.authority(), bearer, &request, timeout_ms) {
        Ok(answer) => outcome::from_answer(
            &request,
            answer.status,
            answer.retry_after.as_deref(),
            &answer.body,
        ),
        Err(failure) => outcome::from_failure(&request, &failure),
    }
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
