//! `aipermission-mcp serve`: reads the settings, starts the runtime and
//! serves MCP on stdio until the client closes stdin.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServiceExt};
use tokio_util::sync::CancellationToken;

use crate::egress::Policy;
use crate::runtime::{CallContext, DEADLINE_MARGIN, Runtime, TokenState};
use crate::server::Bridge;
use crate::settings::{Settings, Token};
use crate::stdio;

/// How long the last answers may take to reach stdout after the session
/// ends.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

pub fn run() -> Result<()> {
    // An invalid timeout stops the server here, before any client waits.
    let settings = Settings::from_env()?;
    if std::io::stdin().is_terminal() {
        greet();
    }

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let served = tokio.block_on(serve(settings));
    // The client is gone: answers still being computed have no reader, and
    // a blocked read of stdin must not hold the exit, so nothing is awaited.
    tokio.shutdown_background();
    served
}

async fn serve(settings: Settings) -> Result<()> {
    let (policy, context) = split(settings);
    let runtime = Runtime::new(policy, context).await?;
    let hang_up = CancellationToken::new();
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let framing = stdio::start(stdin, stdout, hang_up.clone());
    // The framing already refused lines over its limit.
    let transport = AsyncRwTransport::<RoleServer, _, _>::new(framing.input, framing.output)
        .with_max_line_length(usize::MAX);
    let session = match Bridge::new(runtime, hang_up.clone())?
        .serve(transport)
        .await
    {
        Ok(service) => service
            .waiting()
            .await
            .map(drop)
            .context("the MCP session failed"),
        // The client left before opening a session: nothing went wrong.
        Err(_) if hang_up.is_cancelled() => Ok(()),
        Err(err) => Err(err).context("the MCP session failed to start"),
    };
    // rmcp has closed its output: let the last answers reach stdout. A
    // client that stopped reading cannot hold the exit.
    match tokio::time::timeout(FLUSH_AT_EXIT, framing.writer).await {
        Ok(Ok(Err(err))) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            tracing::debug!(error = %err, "could not write the last answers");
        }
        _ => {}
    }
    session
}

/// Splits the settings between the host's egress policy, which holds the
/// token, and the context every call hands the component, which only says
/// whether a usable token exists.
pub fn split(settings: Settings) -> (Policy, CallContext) {
    let origin = settings.origin.ok();
    let (token_state, authorization) = match settings.token {
        Token::Missing => (TokenState::Missing, None),
        Token::Invalid => (TokenState::Invalid, None),
        Token::Present(value) => (TokenState::Present, Some(value)),
    };
    let context = CallContext {
        gateway_origin: origin.as_ref().map(|o| o.as_str().to_owned()),
        token: token_state,
        timeout_ms: settings.timeout_ms,
    };
    // The host bounds its own waits a little after the component's deadline,
    // so that the component's timeout is the one that answers.
    let timeout = std::time::Duration::from_millis(u64::from(settings.timeout_ms));
    let host_timeout = timeout + DEADLINE_MARGIN / 2;
    (Policy::new(origin, authorization, host_timeout), context)
}

/// Tells a person who started the server by hand what it is.
fn greet() {
    let exe = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "aipermission-mcp".into());
    eprintln!(
        "aipermission-mcp {version}: the MCP bridge to the local AIPermission gateway.\n\
         It speaks MCP (JSON-RPC) on stdin/stdout and is meant to be started by an MCP\n\
         client, not by hand. To connect a client, add a stdio server with\n\
         \x20 command: {exe}\n\
         \x20 args:    [\"serve\"]\n\
         \x20 env:     AIPERMISSION_API_URL (default http://localhost:3210)\n\
         \x20          AIPERMISSION_API_TOKEN (your gateway token)\n\
         Run `aipermission-mcp --help` for more. Press Ctrl+D to quit.",
        version = env!("CARGO_PKG_VERSION"),
    );
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[test]
    fn the_call_context_carries_no_token() {
        let token = "aip_CONTEXT_CANARY";
        let vars = [
            ("AIPERMISSION_API_TOKEN", token),
            ("AIPERMISSION_API_URL", "http://127.1:3210"),
        ];
        let settings = Settings::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
        .unwrap();
        let (_policy, context) = split(settings);
        assert!(matches!(context.token, TokenState::Present));
        assert_eq!(
            context.gateway_origin.as_deref(),
            Some("http://127.0.0.1:3210")
        );
        assert!(!format!("{context:?}").contains(token));
    }
}
