//! The command line as a person or a client meets it.

use std::process::{Command, Stdio};

use aipermission_testkit::client::{RawSession, server_command_with};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::support::{TOKEN, binary};

#[test]
fn help_and_version_answer_on_stdout() {
    let help = Command::new(binary()).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for expected in [
        "serve",
        "AIPERMISSION_API_URL",
        "AIPERMISSION_API_TOKEN",
        "AIPERMISSION_HTTP_TIMEOUT_MS",
    ] {
        assert!(text.contains(expected), "--help lacks {expected}");
    }
    let version = Command::new(binary()).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("aipermission-mcp {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_commands_are_refused() {
    let out = Command::new(binary())
        .arg("bogus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_invalid_timeout_stops_the_server_naming_the_variable() {
    for value in ["0", "1e3", "600001", "-1", "12ms"] {
        let out = Command::new(binary())
            .arg("serve")
            .env("AIPERMISSION_HTTP_TIMEOUT_MS", value)
            .env("AIPERMISSION_API_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("AIPERMISSION_HTTP_TIMEOUT_MS"),
            "{value}: {stderr}"
        );
        assert!(!stderr.contains(TOKEN));
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn every_serve_spelling_serves_and_extra_words_are_ignored() {
    for words in [&["server"][..], &["start"], &["serve", "--stdio", "extra"]] {
        let mut command = server_command_with(binary(), words, &[]);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}});
        stdin
            .write_all(format!("{init}\n").as_bytes())
            .await
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next_line().await.unwrap().expect("an answer");
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            answer["result"]["serverInfo"]["name"], "aipermission",
            "{words:?}"
        );
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    }
}

#[test]
fn a_person_at_a_terminal_is_told_what_this_is() {
    // Python's pty module gives the server a terminal for stdin; Ctrl+D
    // then ends the input.
    let script = r#"
import os, pty, subprocess, sys
main, side = pty.openpty()
proc = subprocess.Popen([sys.argv[1], "serve"], stdin=side,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
os.close(side)
os.write(main, b"\x04")
out, err = proc.communicate(timeout=30)
sys.stdout.write(err.decode())
sys.exit(proc.returncode)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(binary())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("meant to be started by an MCP"), "{stderr}");
    assert!(stderr.contains("args:    [\"serve\"]"), "{stderr}");
    assert!(stderr.contains("AIPERMISSION_API_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn a_client_on_a_pipe_hears_no_greeting() {
    let raw = RawSession::start(binary(), &[]).unwrap();
    let (status, lines, stderr) = raw.wait().await.unwrap();
    assert!(status.success());
    assert!(lines.is_empty());
    assert_eq!(stderr, "");
}

#[test]
fn audit_lists_every_import_with_its_authority() {
    let out = Command::new(binary())
        .args(["audit", "--json"])
        .env("AIPERMISSION_API_URL", "http://127.1:4321")
        .env("AIPERMISSION_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["component"]["world"],
        "aipermission:bridge/bridge@0.1.0"
    );
    assert_eq!(
        report["component"]["sha256"].as_str().map(str::len),
        Some(64)
    );
    let imports = report["imports"].as_array().unwrap();
    assert!(
        imports.iter().all(|i| i["authority"].is_string()),
        "{report}"
    );
    let http = imports
        .iter()
        .find(|i| i["name"] == "wasi:http/outgoing-handler@0.2.12")
        .expect("the component imports the outgoing handler");
    assert!(
        http["authority"]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:4321")
    );
    for never in ["wasi:filesystem", "wasi:sockets"] {
        assert!(
            imports
                .iter()
                .all(|i| !i["name"].as_str().unwrap().starts_with(never))
        );
    }
    assert_eq!(
        report["exports"][0]["functions"],
        json!(["list-tools", "call-tool"])
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
}

#[test]
fn audit_refuses_a_component_that_asks_for_more() {
    let greedy = wat::parse_str(
        r#"(component
             (import "wasi:sockets/tcp@0.2.12" (instance))
             (import "wasi:cli/stdout@0.2.12" (instance)))"#,
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!("greedy-{}.wasm", std::process::id()));
    std::fs::write(&path, greedy).unwrap();
    let out = Command::new(binary())
        .arg("audit")
        .arg("--component")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wasi:sockets/tcp@0.2.12"), "{stderr}");
    assert!(
        !stderr.contains("wasi:cli/stdout"),
        "an allowed import was named: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("NOT GRANTED"), "{stdout}");
}
