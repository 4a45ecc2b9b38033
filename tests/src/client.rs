//! Starting the real `aipermission-mcp` binary for tests: under the rmcp
//! client over the child's stdio, or as a raw line-by-line JSON-RPC peer
//! for tests that look at the bytes themselves.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RunningService, ServiceExt};
use rmcp::transport::TokioChildProcess;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

/// Generous bound for one exchange with the server in tests: long enough
/// for a loaded CI machine, short enough that a hang fails the test.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A command that runs `binary serve` with only the given
/// `AIPERMISSION_*` variables (inherited ones are removed) and, unless
/// given, no proxy variables either.
pub fn server_command(binary: &Path, vars: &[(&str, &str)]) -> Command {
    server_command_with(binary, &["serve"], vars)
}

/// Like [`server_command`], with other command-line words.
///
/// The compiled component is cached in one directory under the system's
/// temporary directory, shared by every server a test run starts (and by
/// later runs, since entries are keyed by the component's hash), never in
/// the user's own cache.
pub fn server_command_with(binary: &Path, words: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command.args(words);
    command.env(
        "XDG_CACHE_HOME",
        std::env::temp_dir().join("aipermission-mcp-tests"),
    );
    for (name, _) in std::env::vars_os().filter_map(|(n, v)| Some((n.into_string().ok()?, v))) {
        let lower = name.to_ascii_lowercase();
        if name.starts_with("AIPERMISSION_") || lower.ends_with("_proxy") || name == "RUST_LOG" {
            command.env_remove(&name);
        }
    }
    command.envs(vars.iter().copied());
    command.kill_on_drop(true);
    command
}

/// The server under the rmcp client, with its stderr kept for checks.
pub struct McpSession {
    pub client: RunningService<RoleClient, ()>,
    stderr: Option<ChildStderr>,
}

impl McpSession {
    /// Spawns the server and completes the MCP handshake.
    pub async fn start(binary: &Path, vars: &[(&str, &str)]) -> Result<McpSession> {
        let command = server_command(binary, vars);
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .context("failed to spawn the server")?;
        let client = tokio::time::timeout(EXCHANGE_TIMEOUT, ().serve(transport))
            .await
            .context("the handshake timed out")?
            .context("the handshake failed")?;
        Ok(McpSession { client, stderr })
    }

    /// Calls a tool with JSON arguments (an object).
    pub async fn call(&self, name: &str, arguments: Value) -> Result<CallToolResult> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = arguments {
            params = params.with_arguments(map);
        }
        let call = self.client.call_tool(params);
        let result = tokio::time::timeout(EXCHANGE_TIMEOUT, call)
            .await
            .with_context(|| format!("`{name}` timed out"))?
            .with_context(|| format!("`{name}` failed"))?;
        Ok(result)
    }

    /// Closes the session and returns everything the server wrote to
    /// stderr.
    pub async fn finish(mut self) -> Result<String> {
        let stderr = self.stderr.take();
        let _ = self.client.cancel().await;
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let read = stderr.read_to_string(&mut text);
            tokio::time::timeout(EXCHANGE_TIMEOUT, read)
                .await
                .context("stderr stayed open")??;
        }
        Ok(text)
    }
}

/// The JSON value of a tool result's text content.
pub fn text_json(result: &CallToolResult) -> Value {
    let text = result
        .content
        .first()
        .and_then(|block| block.as_text())
        .map(|text| text.text.as_str())
        .unwrap_or_default();
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Whether the result is marked as an error.
pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

/// The server as a raw JSON-RPC peer: lines in, lines out, every stdout
/// line kept so a test can check that each one is JSON-RPC.
pub struct RawSession {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Collects stderr as it comes, so a chatty server never blocks on it.
    stderr: tokio::task::JoinHandle<String>,
    /// Every line read from stdout so far.
    pub lines: Vec<String>,
    /// Messages read while waiting for another answer.
    pending: Vec<Value>,
}

impl RawSession {
    pub fn start(binary: &Path, vars: &[(&str, &str)]) -> Result<RawSession> {
        let mut command = server_command(binary, vars);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().context("failed to spawn the server")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("stdout is piped")?);
        let mut pipe = child.stderr.take().context("stderr is piped")?;
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            text
        });
        Ok(RawSession {
            child,
            stdin,
            stdout,
            stderr,
            lines: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// Writes one message as a line.
    pub async fn send(&mut self, message: &Value) -> Result<()> {
        self.send_line(&message.to_string()).await
    }

    /// Writes raw text followed by a newline.
    pub async fn send_line(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin was closed")?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Reads the next stdout line as JSON.
    pub async fn recv(&mut self) -> Result<Value> {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line);
        let n = tokio::time::timeout(EXCHANGE_TIMEOUT, read)
            .await
            .context("no answer in time")??;
        if n == 0 {
            bail!("the server closed stdout");
        }
        self.lines.push(line.clone());
        serde_json::from_str(&line).with_context(|| format!("stdout line is not JSON: {line:?}"))
    }

    /// The answer with `id`, which may have arrived while waiting for
    /// another (answers to concurrent requests come in any order).
    pub async fn answer(&mut self, id: u64) -> Result<Value> {
        let wanted = Value::from(id);
        if let Some(at) = self
            .pending
            .iter()
            .position(|m| m.get("id") == Some(&wanted))
        {
            return Ok(self.pending.remove(at));
        }
        loop {
            let message = self.recv().await?;
            if message.get("id") == Some(&wanted) {
                return Ok(message);
            }
            self.pending.push(message);
        }
    }

    /// The legacy handshake: `initialize` and `notifications/initialized`.
    pub async fn initialize(&mut self, version: &str) -> Result<Value> {
        let init = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "1"}
            }
        });
        self.send(&init).await?;
        let answer = self.answer(0).await?;
        let initialized =
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.send(&initialized).await?;
        Ok(answer)
    }

    /// A `tools/call` request with `id`.
    pub async fn call(&mut self, id: u64, name: &str, arguments: Map<String, Value>) -> Result<()> {
        let request = serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}
        });
        self.send(&request).await
    }

    /// Closes stdin, as a client does to end the session.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the process to exit and returns its status, the rest of
    /// stdout and all of stderr.
    pub async fn wait(mut self) -> Result<(std::process::ExitStatus, Vec<String>, String)> {
        self.close_stdin();
        let mut rest = String::new();
        tokio::time::timeout(EXCHANGE_TIMEOUT, self.stdout.read_to_string(&mut rest))
            .await
            .context("stdout stayed open")??;
        let mut lines = self.lines;
        lines.extend(rest.lines().map(str::to_owned));
        let stderr = tokio::time::timeout(EXCHANGE_TIMEOUT, self.stderr)
            .await
            .context("stderr stayed open")??;
        let status = tokio::time::timeout(EXCHANGE_TIMEOUT, self.child.wait())
            .await
            .context("the server did not exit")??;
        Ok((status, lines, stderr))
    }
}
