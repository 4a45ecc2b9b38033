//! `init` for every client: the file lands where the client reads it, in
//! its format, readable by parsers that are not ours, private, and with
//! everything else in the file kept.

use std::fs;

use serde_json::{Value, json};

use super::{CANARY, Sandbox, assert_launches_bridge, entry, mode, read_config};

const URL: &str = "http://localhost:3210";

/// (provider, scope, path below home or project, reader, root key).
const TARGETS: [(&str, &str, &str, &str, &str); 17] = [
    ("codex", "user", ".codex/config.toml", "toml", "mcp_servers"),
    (
        "codex",
        "project",
        ".codex/config.toml",
        "toml",
        "mcp_servers",
    ),
    ("claude-code", "user", ".claude.json", "json", "mcpServers"),
    ("claude-code", "project", ".mcp.json", "json", "mcpServers"),
    ("cursor", "user", ".cursor/mcp.json", "json", "mcpServers"),
    (
        "cursor",
        "project",
        ".cursor/mcp.json",
        "json",
        "mcpServers",
    ),
    ("vscode", "project", ".vscode/mcp.json", "jsonc", "servers"),
    (
        "copilot",
        "user",
        ".copilot/mcp-config.json",
        "json",
        "mcpServers",
    ),
    ("copilot", "project", ".mcp.json", "json", "mcpServers"),
    (
        "windsurf",
        "user",
        ".codeium/windsurf/mcp_config.json",
        "json",
        "mcpServers",
    ),
    (
        "antigravity",
        "user",
        ".gemini/config/mcp_config.json",
        "json",
        "mcpServers",
    ),
    (
        "antigravity",
        "project",
        ".agents/mcp_config.json",
        "json",
        "mcpServers",
    ),
    (
        "antigravity-cli",
        "user",
        ".gemini/antigravity-cli/mcp_config.json",
        "json",
        "mcpServers",
    ),
    (
        "gemini",
        "user",
        ".gemini/settings.json",
        "json",
        "mcpServers",
    ),
    (
        "gemini",
        "project",
        ".gemini/settings.json",
        "json",
        "mcpServers",
    ),
    ("grok", "user", ".grok/config.toml", "toml", "mcp_servers"),
    (
        "grok",
        "project",
        ".grok/config.toml",
        "toml",
        "mcp_servers",
    ),
];

#[test]
fn every_client_gets_a_private_config_it_can_read() {
    for (provider, scope, rel, kind, root) in TARGETS {
        let sandbox = Sandbox::new(&format!("every-{provider}-{scope}"));
        sandbox
            .init(&["--provider", provider, "--scope", scope])
            .expect_ok();
        let base = if scope == "user" {
            &sandbox.home
        } else {
            &sandbox.project
        };
        let path = base.join(rel);
        let config = read_config(kind, &path);
        let entry = entry(&config, root, "aipermission");
        assert_launches_bridge(entry, URL);
        match provider {
            "copilot" => {
                assert_eq!(entry["type"], "local");
                assert_eq!(entry["tools"], json!(["*"]));
            }
            "grok" => assert_eq!(entry["startup_timeout_sec"], 60),
            _ => {}
        }
        assert_eq!(mode(&path), 0o600, "{provider} {scope}");
        let parent = path.parent().unwrap();
        if parent != base {
            assert_eq!(
                mode(parent),
                0o700,
                "{provider} {scope}: new directories are private"
            );
        }
        assert_eq!(sandbox.files_with_canary(), [path], "{provider} {scope}");
    }
}

#[test]
fn each_client_uses_its_usual_scope_by_default() {
    let sandbox = Sandbox::new("defaults");
    sandbox.init(&["--provider", "codex"]).expect_ok();
    assert!(sandbox.home_file(".codex/config.toml").exists());
    sandbox.init(&["--provider", "CLAUDE"]).expect_ok();
    assert!(
        sandbox.project_file(".mcp.json").exists(),
        "aliases in any case work"
    );
}

#[test]
fn client_home_variables_move_user_configs_unless_home_is_given() {
    let sandbox = Sandbox::new("home-vars");
    let codex_home = sandbox.root.join("codex-home");
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "codex"]);
    command.env("CODEX_HOME", &codex_home);
    sandbox.run_command(command, CANARY).expect_ok();
    assert!(codex_home.join("config.toml").exists());

    let other = sandbox.root.join("other-home");
    fs::create_dir(&other).unwrap();
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "codex"]);
    command
        .env("CODEX_HOME", &codex_home)
        .arg("--home")
        .arg(&other);
    sandbox.run_command(command, CANARY).expect_ok();
    assert!(other.join(".codex/config.toml").exists());
}

#[test]
fn previews_hold_a_placeholder_and_write_nothing() {
    let sandbox = Sandbox::new("print");
    let run = sandbox.run(&["init", "--provider", "codex", "--print"], CANARY);
    run.expect_ok();
    assert!(
        run.stdout.contains("[mcp_servers.aipermission]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("YOUR_TOKEN_HERE"));
    assert!(!run.stdout.contains("mcpServers"));

    let run = sandbox.run(
        &["init", "--provider", "vscode", "--scope", "user", "--print"],
        "",
    );
    assert!(
        run.expect_ok().stdout.contains("\"servers\""),
        "{}",
        run.stdout
    );
    let run = sandbox.run(&["init", "--provider", "custom"], "");
    assert!(
        run.expect_ok().stdout.contains("\"mcpServers\""),
        "{}",
        run.stdout
    );
    sandbox
        .run(
            &[
                "init",
                "--provider",
                "windsurf",
                "--scope",
                "project",
                "--print",
            ],
            "",
        )
        .expect_error("does not support project MCP config scope");

    let run = sandbox.run(&["setup", "--provider", "cursor", "--print"], "");
    run.expect_ok();
    assert!(
        run.stderr.contains("No files were changed"),
        "{}",
        run.stderr
    );
    let untouched = |dir: &std::path::Path| fs::read_dir(dir).unwrap().next().is_none();
    assert!(untouched(&sandbox.home) && untouched(&sandbox.project));
}

#[test]
fn the_command_line_refuses_what_it_should() {
    let sandbox = Sandbox::new("flags");
    let run = sandbox.run(
        &["init", "--provider", "codex", "--token", "PASTED_SECRET"],
        "",
    );
    run.expect_error("--token is not supported; use the hidden prompt or --token-stdin");
    assert!(!run.stderr.contains("PASTED_SECRET") && !run.stdout.contains("PASTED_SECRET"));
    sandbox
        .run(&["init", "--install-skill"], "")
        .expect_error("--install-skill");
    sandbox
        .run(&["init", "--name", "a", "--name", "b"], "")
        .expect_error("--name");
    sandbox.run(&["init", "codex"], "").expect_error("codex");
    sandbox
        .run(&["init", "--print=maybe"], "")
        .expect_error("--print");
    sandbox
        .run(&["init"], "")
        .expect_error("Non-interactive setup requires an explicit --provider.");
    sandbox
        .run(&["init", "--provider", "emacs"], "")
        .expect_error("Unknown provider: emacs");
    sandbox
        .run(&["init", "--provider", "codex", "--scope", "local"], "")
        .expect_error("Unknown scope: local. Use user or project.");
    sandbox
        .run(
            &[
                "init",
                "--provider",
                "codex",
                "--name",
                "__proto__",
                "--print",
            ],
            "",
        )
        .expect_error("MCP server name is reserved.");
    for url in [
        "https://localhost:3210",
        "http://example.com:3210",
        "http://localhost:1/x",
    ] {
        sandbox
            .init(&["--provider", "codex", "--api-url", url])
            .expect_error("AIPERMISSION_API_URL");
    }
    let run = sandbox.init(&[
        "--provider",
        "codex",
        "--api-url",
        "http://u:HUNTER2@localhost:1",
    ]);
    run.expect_error("AIPERMISSION_API_URL");
    assert!(
        !run.stderr.contains("HUNTER2"),
        "credentials are not repeated"
    );
    sandbox
        .run(&["init", "--provider", "codex", "--token-stdin"], "  \n")
        .expect_error("API token is required.");
    assert!(
        fs::read_dir(&sandbox.home).unwrap().next().is_none(),
        "nothing was written"
    );
}

#[test]
fn a_piped_token_is_read_as_one_line_without_token_stdin() {
    let sandbox = Sandbox::new("plain-line");
    let args = [
        "init",
        "--provider",
        "codex",
        "--token-stdin=false",
        "--print=false",
    ];
    let run = sandbox.run(&args, &format!("{CANARY}\nextra\n"));
    run.expect_ok();
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    assert_launches_bridge(entry(&config, "mcp_servers", "aipermission"), URL);
}

#[test]
fn names_are_sanitised_and_quoted_for_toml() {
    let sandbox = Sandbox::new("names");
    sandbox
        .init(&["--provider", "codex", "--name", " aipermission default! "])
        .expect_ok();
    sandbox
        .init(&["--provider", "codex", "--name", "my.server"])
        .expect_ok();
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    entry(&config, "mcp_servers", "aipermission-default");
    entry(&config, "mcp_servers", "my.server");
    sandbox
        .init(&["--provider", "codex", "--api-url", "http://127.0.0.1:4000/"])
        .expect_ok();
    let config = read_config("toml", &sandbox.home_file(".codex/config.toml"));
    assert_launches_bridge(
        entry(&config, "mcp_servers", "aipermission"),
        "http://127.0.0.1:4000",
    );
}

#[test]
fn toml_updates_keep_everything_but_the_replaced_server() {
    let sandbox = Sandbox::new("toml-keep");
    let path = sandbox.home_file(".codex/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let before = "# Codex settings\nmodel = \"o4\" # pinned\n\n[preferences]\n\
                  __proto__ = { polluted = true }\nconstructor = \"kept\"\n\n\
                  [mcp_servers.aipermission] # from the Node bridge\ncommand = \"npx\"\n\
                  [mcp_servers.aipermission.env]\nOLD = \"x\"\n\n\
                  [mcp_servers.other]\ncommand = \"other\"\nnote = \"\"\"\n[mcp_servers.aipermission]\n\"\"\"\n\n\
                  [[profiles]]\nname = \"fast\"\n";
    fs::write(&path, before).unwrap();
    let original = read_config("toml", &path);
    for _ in 0..2 {
        sandbox.init(&["--provider", "codex"]).expect_ok();
    }
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Codex settings\nmodel = \"o4\" # pinned\n\n[preferences]\n"));
    assert!(text.contains("[mcp_servers.other]\ncommand = \"other\"\nnote = \"\"\"\n"));
    assert_eq!(text.matches("AIPERMISSION_API_TOKEN").count(), 1, "{text}");
    let config = read_config("toml", &path);
    for key in ["model", "preferences", "profiles"] {
        assert_eq!(config[key], original[key], "{key} changed");
    }
    assert_eq!(
        config["mcp_servers"]["other"],
        original["mcp_servers"]["other"]
    );
    let ours = entry(&config, "mcp_servers", "aipermission");
    assert_launches_bridge(ours, URL);
    assert!(
        ours["env"].get("OLD").is_none(),
        "the old entry is replaced whole"
    );
}

#[test]
fn json_updates_keep_other_servers_and_settings() {
    let sandbox = Sandbox::new("json-keep");
    let path = sandbox.project_file(".cursor/mcp.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        &path,
        r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}}}"#,
    )
    .unwrap();
    sandbox.init(&["--provider", "cursor"]).expect_ok();
    let config = read_config("json", &path);
    assert_eq!(config["theme"], "dark");
    assert_eq!(config["mcpServers"]["other"], json!({"command": "x"}));
    assert_launches_bridge(entry(&config, "mcpServers", "aipermission"), URL);

    fs::write(
        &path,
        r#"{"mcpServers": ["not", "an", "object"], "keep": 1}"#,
    )
    .unwrap();
    sandbox.init(&["--provider", "cursor"]).expect_ok();
    let config = read_config("json", &path);
    assert_eq!(config["keep"], 1);
    assert_eq!(config["mcpServers"].as_object().unwrap().len(), 1);
}

#[test]
fn a_malformed_config_is_left_alone_and_not_quoted() {
    let sandbox = Sandbox::new("malformed");
    let path = sandbox.project_file(".cursor/mcp.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let broken = "{\"mcpServers\": {\"old\": {\"env\": {\"T\": \"OLD_SECRET_VALUE\"}}";
    fs::write(&path, broken).unwrap();
    let run = sandbox.init(&["--provider", "cursor"]);
    run.expect_error("Could not parse JSON config");
    assert!(!run.stderr.contains("OLD_SECRET_VALUE"));
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn vscode_jsonc_keeps_comments_commas_and_line_endings() {
    let sandbox = Sandbox::new("jsonc");
    let path = sandbox.project_file(".vscode/mcp.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let before = "// Workspace servers\r\n{\r\n  \"servers\": {\r\n    // a local one\r\n    \
                  \"other\": { \"command\": \"x\", },\r\n  },\r\n  \"inputs\": [],\r\n}\r\n";
    fs::write(&path, before).unwrap();
    sandbox.init(&["--provider", "vscode"]).expect_ok();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("// Workspace servers\r\n{\r\n"), "{text}");
    assert!(text.contains("// a local one\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "only CRLF line endings"
    );
    let config = read_config("jsonc", &path);
    assert_eq!(config["servers"]["other"], json!({"command": "x"}));
    assert_eq!(config["inputs"], json!([]));
    assert_launches_bridge(entry(&config, "servers", "aipermission"), URL);
}

#[test]
fn concurrent_inits_for_two_names_both_land() {
    for (provider, rel, kind, root) in [
        ("codex", ".codex/config.toml", "toml", "mcp_servers"),
        ("copilot", ".copilot/mcp-config.json", "json", "mcpServers"),
    ] {
        let sandbox = Sandbox::new(&format!("concurrent-{provider}"));
        let sandbox = &sandbox;
        std::thread::scope(|scope| {
            let a = scope.spawn(|| sandbox.init(&["--provider", provider, "--name", "first"]));
            let b = scope.spawn(|| sandbox.init(&["--provider", provider, "--name", "second"]));
            a.join().unwrap().expect_ok();
            b.join().unwrap().expect_ok();
        });
        let path = sandbox.home_file(rel);
        let config: Value = read_config(kind, &path);
        entry(&config, root, "first");
        entry(&config, root, "second");
        let dir: Vec<String> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with("aipermission-recovery"))
            .collect();
        assert_eq!(dir.len(), 1, "only the config is left: {dir:?}");
    }
}

#[test]
fn init_leaves_the_compiled_component_cached_for_the_clients_first_start() {
    let sandbox = Sandbox::new("warm-cache");
    let cache = sandbox.root.join("cache");
    fs::create_dir(&cache).unwrap();
    fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut command = sandbox.command(&["init", "--provider", "codex", "--print"]);
    command.env("XDG_CACHE_HOME", &cache);
    sandbox.run_command(command, "").expect_ok();
    let entries = fs::read_dir(cache.join("aipermission-mcp"))
        .unwrap()
        .count();
    assert_eq!(entries, 1, "one compiled component in the cache");
}
