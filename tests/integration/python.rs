//! The official MCP Python SDK as a client we did not write: in legacy
//! mode (initialize) and in auto mode, which probes the 2026-07-28
//! `server/discover` path first.

use std::path::PathBuf;
use std::process::Stdio;

use crate::support::{TOKEN, binary, gateway, workspace};

/// The interpreter with the `mcp` package: `AIPERMISSION_TEST_PYTHON`,
/// else the project's `.venv` made by `just setup`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("AIPERMISSION_TEST_PYTHON") {
        return path.into();
    }
    let venv = workspace().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the mcp package: run `just setup` first"
    );
    venv
}

async fn check(mode: &str) {
    let gateway = gateway().await;
    let script = workspace().join("tests/python/client_check.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args(["--server".as_ref(), binary().as_os_str()])
        .args(["--url", &gateway.url(), "--token", TOKEN, "--mode", mode])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).replace(TOKEN, "<token>");
    assert!(
        out.status.success(),
        "{mode} mode failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("poll: completed"), "{stdout}");
    assert!(!stdout.contains(TOKEN));
}

#[tokio::test]
async fn the_python_client_works_in_legacy_mode() {
    check("legacy").await;
}

#[tokio::test]
async fn the_python_client_works_in_auto_mode_over_server_discover() {
    check("auto").await;
}
