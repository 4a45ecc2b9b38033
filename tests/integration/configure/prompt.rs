//! The prompts in a real pseudo-terminal: nothing typed at the token
//! prompt is echoed (even when stdout goes elsewhere), UTF-8 split across
//! reads and Backspace work by character, and Ctrl+C at any prompt leaves
//! everything untouched with status 130. The terminal's settings are
//! restored either way.

use std::ffi::OsString;
use std::fs;
use std::process::Command;

use serde_json::Value;

use super::{CANARY, Sandbox, read_config};
use crate::support::{binary, workspace};

/// Runs `command` in a terminal; for each step, waits for its prompt and
/// types its keys. Returns everything the terminal showed.
fn type_into(steps: &[(&str, &[u8])], command: &[OsString]) -> String {
    let steps: Vec<Value> = steps
        .iter()
        .map(|(wait, keys)| {
            let hex: String = keys.iter().map(|b| format!("{b:02x}")).collect();
            serde_json::json!({"wait": wait, "keys": hex})
        })
        .collect();
    let out = Command::new(crate::python::python())
        .arg(workspace().join("tests/python/pty_session.py"))
        .arg(serde_json::to_string(&steps).unwrap())
        .args(command)
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
    let screen = report["output"].as_str().unwrap().to_owned();
    assert_eq!(
        report["answered"],
        steps.len(),
        "a prompt did not appear:\n{screen}"
    );
    screen
}

/// `init` for Codex in `sandbox`, with extra arguments.
fn init(sandbox: &Sandbox, extra: &[&str]) -> Vec<OsString> {
    let mut command: Vec<OsString> = vec![binary().into()];
    command.extend(["init", "--provider", "codex", "--home"].map(OsString::from));
    command.push(sandbox.home.clone().into());
    command.extend(extra.iter().map(OsString::from));
    command
}

fn settings_restored(screen: &str) -> bool {
    let stty = screen.split("EXIT_STATUS=").nth(1).unwrap_or("");
    let words: Vec<&str> = stty.split_whitespace().collect();
    ["echo", "icanon", "isig"]
        .iter()
        .all(|flag| words.contains(flag))
}

#[test]
fn the_token_is_typed_unseen_and_edited_by_character() {
    let sandbox = Sandbox::new("prompt-ok");
    // An emoji split across two writes, then Backspace removes all of it.
    let emoji = "\u{1F600}".as_bytes();
    let mut first = CANARY.as_bytes().to_vec();
    first.extend_from_slice(&emoji[..2]);
    let mut second = emoji[2..].to_vec();
    second.extend_from_slice(b"\x7fZ\r");
    let steps: [(&str, &[u8]); 2] = [("API token: ", &first), ("", &second)];
    let screen = type_into(&steps, &init(&sandbox, &["--name", "main"]));

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
fn the_token_stays_hidden_when_stdout_is_redirected() {
    let sandbox = Sandbox::new("prompt-redirected");
    let mut command: Vec<OsString> = ["sh", "-c", "exec \"$0\" \"$@\" > /dev/null"]
        .map(OsString::from)
        .to_vec();
    command.extend(init(&sandbox, &["--name", "main"]));
    let typed = format!("{CANARY}\r");
    let screen = type_into(&[("API token: ", typed.as_bytes())], &command);
    assert!(!screen.contains(CANARY), "the token was echoed");
    assert!(screen.contains("EXIT_STATUS=0"), "{screen}");
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    assert!(config["mcp_servers"]["main"]["env"]["AIPERMISSION_API_TOKEN"] == CANARY);
}

#[test]
fn ctrl_c_at_the_token_prompt_changes_nothing_and_exits_130() {
    let sandbox = Sandbox::new("prompt-interrupt");
    let command = init(&sandbox, &["--name", "main"]);
    let screen = type_into(&[("API token: ", b"half-typed\x03")], &command);
    assert!(
        screen.contains("interrupted; nothing was changed"),
        "{screen}"
    );
    assert!(screen.contains("EXIT_STATUS=130"), "{screen}");
    assert!(settings_restored(&screen), "{screen}");
    assert!(
        fs::read_dir(&sandbox.home).unwrap().next().is_none(),
        "a fresh home stays empty"
    );

    let path = sandbox.home_file(".codex/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "model = \"o4\"\n").unwrap();
    let screen = type_into(&[("API token: ", b"x\x03")], &command);
    assert!(screen.contains("EXIT_STATUS=130"), "{screen}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"o4\"\n");
}

#[test]
fn the_name_prompt_echoes_and_ctrl_c_there_exits_130() {
    let sandbox = Sandbox::new("prompt-name");
    let screen = type_into(&[("MCP server name", b"mine\x03")], &init(&sandbox, &[]));
    assert!(
        screen.contains("mine"),
        "the name is shown as it is typed: {screen}"
    );
    assert!(screen.contains("EXIT_STATUS=130"), "{screen}");
    assert!(settings_restored(&screen), "{screen}");
    assert!(fs::read_dir(&sandbox.home).unwrap().next().is_none());

    let token = format!("{CANARY}\r");
    let steps: [(&str, &[u8]); 2] = [
        ("MCP server name", b"my server\r"),
        ("API token: ", token.as_bytes()),
    ];
    let screen = type_into(&steps, &init(&sandbox, &[]));
    assert!(screen.contains("EXIT_STATUS=0"), "{screen}");
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    assert!(config["mcp_servers"]["my-server"].is_object(), "{config}");
}
