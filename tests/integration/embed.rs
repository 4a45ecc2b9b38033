//! The component in hosts other than ours: the wasmtime embedding of
//! `host/examples/embed.rs` and Node 20 through jco
//! (`tests/node/embed-jco.mjs`), each against the stand-in gateway, with
//! the settings granted as environment variables.

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use crate::support::{TOKEN, gateway, workspace};

/// The component cargo just built and embedded in the binary.
fn component() -> &'static Path {
    Path::new(concat!(env!("OUT_DIR"), "/aipermission_bridge.wasm"))
}

/// The example program, built beside this test by `cargo test`.
fn example() -> PathBuf {
    let test = std::env::current_exe().expect("the test knows its path");
    let deps = test.parent().expect("tests live in target/<profile>/deps");
    deps.parent()
        .expect("deps is in the profile directory")
        .join("examples")
        .join("embed")
}

async fn run(program: &Path, args: &[&Path], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(program);
    command.args(args).env_clear();
    command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().await.expect("the host program starts")
}

#[tokio::test]
async fn a_wasmtime_host_of_its_own_calls_the_typed_tools() {
    let gateway = gateway().await;
    let url = gateway.url();
    let granted = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let out = run(&example(), &[component()], &granted).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("target ssh:4:2 (ssh)"), "{stdout}");
    assert!(
        stdout.contains("target postgres:7:11 (postgres)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("action ssh:4:2 exec (non_idempotent)"),
        "{stdout}"
    );
    // The component sent the granted token itself.
    let seen = gateway.seen();
    assert_eq!(seen.len(), 2, "one request per typed call");
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(bearer.as_str())),
        "every request carried the granted token"
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));

    // Another spelling of the same origin, normalised by the component.
    let spelled = format!(" {}/ ", url.replace("127.0.0.1", "127.1"));
    let granted = [
        ("AIPERMISSION_API_URL", spelled.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let out = run(&example(), &[component()], &granted).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
}

#[tokio::test]
async fn under_a_foreign_host_the_component_still_applies_the_url_rule_and_needs_the_token() {
    let gateway = gateway().await;
    let url = gateway.url();
    let elsewhere = url.replace("127.0.0.1", "example.com");
    let cases = [
        (
            vec![
                ("AIPERMISSION_API_URL", elsewhere.as_str()),
                ("AIPERMISSION_API_TOKEN", TOKEN),
            ],
            "Invalid local gateway URL configuration; update AIPERMISSION_API_URL.",
        ),
        (
            vec![("AIPERMISSION_API_URL", url.as_str())],
            "AIPERMISSION_API_TOKEN is required.",
        ),
        (
            vec![
                ("AIPERMISSION_API_URL", url.as_str()),
                ("AIPERMISSION_API_TOKEN", TOKEN),
                ("AIPERMISSION_HTTP_TIMEOUT_MS", "soon"),
            ],
            "AIPERMISSION_HTTP_TIMEOUT_MS must be a positive integer in milliseconds",
        ),
        (
            vec![
                ("AIPERMISSION_API_URL", url.as_str()),
                ("AIPERMISSION_API_TOKEN", "aip_wrong"),
            ],
            "invalid, revoked, or expired API token",
        ),
    ];
    for (vars, message) in cases {
        let out = run(&example(), &[component()], &vars).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{message}: {stderr}");
        assert!(!stderr.contains(TOKEN));
    }
    let sent = gateway.seen().len();
    assert_eq!(sent, 1, "only the wrong token reached the gateway");
}

#[tokio::test]
async fn node_through_jco_gives_the_same_answers_as_the_generic_tool() {
    let gateway = gateway().await;
    let url = gateway.url();
    let node_dir = workspace().join("tests/node");
    // Inside tests/node, so the transpiled module finds jco's shim.
    let out_dir = tempdir_in(&node_dir.join("build"));
    let script = node_dir.join("embed-jco.mjs");
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let out = run(
        Path::new("node"),
        &[&script, component(), out_dir.path()],
        &vars,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "run `just setup` if jco is missing\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("typed answers equal the generic ones"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

/// A fresh directory under `parent`, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir_in(parent: &Path) -> TempDir {
    let name = format!(
        "jco-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    let dir = parent.join(name.replace(['(', ')'], ""));
    std::fs::create_dir_all(&dir).expect("the directory is writable");
    TempDir(dir)
}
