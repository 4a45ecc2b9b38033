//! `aipermission-mcp serve`: reads the settings, starts the runtime and
//! serves MCP on stdio until the client closes stdin.

use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, Result};
use rmcp::ServiceExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::egress::Policy;
use crate::runtime::{CallContext, DEADLINE_MARGIN, Runtime, TokenState};
use crate::server::Bridge;
use crate::settings::{Settings, Token};

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
    let stdin = HangUpSignal {
        inner: stdin,
        hang_up: hang_up.clone(),
    };
    let service = match Bridge::new(runtime, hang_up.clone())?
        .serve((stdin, stdout))
        .await
    {
        Ok(service) => service,
        // The client left before opening a session: nothing went wrong.
        Err(_) if hang_up.is_cancelled() => return Ok(()),
        Err(err) => return Err(err).context("the MCP session failed to start"),
    };
    service.waiting().await.context("the MCP session failed")?;
    Ok(())
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

/// Wraps stdin to cancel `hang_up` at end of input or on a read error (a
/// socket stdin that hung up): tool calls still running then stop at once
/// instead of holding the process for a client that is gone.
struct HangUpSignal<R> {
    inner: R,
    hang_up: CancellationToken,
}

impl<R: AsyncRead + Unpin> AsyncRead for HangUpSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let ended = match &poll {
            Poll::Ready(Ok(())) => wanted && buf.filled().len() == before,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        };
        if ended {
            self.hang_up.cancel();
        }
        poll
    }
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
