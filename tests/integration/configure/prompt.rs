//! The hidden token prompt in a real pseudo-terminal: nothing typed is
//! echoed, UTF-8 split across reads and Backspace work by character, and
//! Ctrl+C leaves everything untouched with status 130. The terminal's
//! settings are restored either way.

use std::fs;
use std::process::Command;

use serde_json::Value;

use super::{CANARY, Sandbox, read_config};
use crate::support::{binary, workspace};

/// Types `chunks` into `init` running in a terminal; returns the screen.
fn type_into_init(sandbox: &Sandbox, chunks: &[&[u8]]) -> String {
    let hex: Vec<String> = chunks
        .iter()
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let out = Command::new(crate::python::python())
        .arg(workspace().join("tests/python/pty_session.py"))
        .arg(serde_json::to_string(&hex).unwrap())
        .arg(binary())
        .args(["init", "--provider", "codex", "--name", "main", "--home"])
        .arg(&sandbox.home)
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("aipermission-mcp-tests"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["output"].as_str().unwrap().to_owned()
}

fn settings_restored(screen: &str) -> bool {
    let stty = screen.split("EXIT_STATUS=").nth(1).unwrap_or("");
    [" echo ", " icanon ", "isig "]
        .iter()
        .all(|flag| stty.split_whitespace().any(|word| word == flag.trim()))
}

#[test]
fn the_token_is_typed_unseen_and_edited_by_character() {
    let sandbox = Sandbox::new("prompt-ok");
    let emoji = "\u{1F600}".as_bytes();
    let mut first = CANARY.as_bytes().to_vec();
    first.extend_from_slice(&emoji[..2]);
    let mut second = emoji[2..].to_vec();
    second.extend_from_slice(b"\x7fZ\r");
    let screen = type_into_init(&sandbox, &[&first, &second]);

    assert!(screen.contains("API token: "), "{screen}");
    assert!(!screen.contains(CANARY), "the token was echoed");
    assert!(screen.contains("EXIT_STATUS=0"), "{screen}");
    assert!(settings_restored(&screen), "{screen}");
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    let token = &config["mcp_servers"]["main"]["env"]["AIPERMISSION_API_TOKEN"];
    assert!(
        *token == format!("{CANARY}Z"),
        "the stored token is not the typed one"
    );
}

#[test]
fn ctrl_c_changes_nothing_and_exits_130() {
    let sandbox = Sandbox::new("prompt-interrupt");
    let screen = type_into_init(&sandbox, &[b"half-typed\x03"]);
    assert!(screen.contains("EXIT_STATUS=130"), "{screen}");
    assert!(settings_restored(&screen), "{screen}");
    assert!(
        fs::read_dir(&sandbox.home).unwrap().next().is_none(),
        "a fresh home stays empty"
    );

    let path = sandbox.home_file(".codex/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "model = \"o4\"\n").unwrap();
    let screen = type_into_init(&sandbox, &[b"x\x03"]);
    assert!(screen.contains("EXIT_STATUS=130"), "{screen}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"o4\"\n");
}
