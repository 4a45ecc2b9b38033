//! `doctor`: passes on what init and setup wrote, names each problem a
//! user can fix, never prints the token or file contents, changes nothing,
//! and with `--live` proves the gateway answers through the sandbox.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Command;

use aipermission_testkit::StandIn;

use super::{CANARY, Sandbox};

fn setup(sandbox: &Sandbox, args: &[&str]) {
    let mut all = vec!["setup", "--token-stdin"];
    all.extend(args);
    sandbox.run(&all, CANARY).expect_ok();
}

#[test]
fn what_setup_wrote_passes() {
    let sandbox = Sandbox::new("doctor-pass");
    setup(&sandbox, &["--provider", "copilot"]);
    let run = sandbox.run(&["doctor", "--client", "copilot"], "");
    run.expect_ok();
    assert!(
        run.stdout
            .starts_with("AIPermission MCP doctor: GitHub Copilot CLI (user)\n")
    );
    assert!(run.stdout.contains("PASS MCP config: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("PASS Operator skill: "),
        "{}",
        run.stdout
    );

    let args = ["--provider", "grok", "--scope", "project", "--name", "main"];
    let mut with_url = args.to_vec();
    with_url.extend(["--api-url", "http://127.0.0.1:3210"]);
    setup(&sandbox, &with_url);
    let run = sandbox.run(
        &[
            "doctor", "--client", "grok", "--scope", "project", "--name", "main",
        ],
        "",
    );
    assert!(
        run.expect_ok().stdout.contains("(project)"),
        "{}",
        run.stdout
    );

    setup(
        &sandbox,
        &[
            "--provider",
            "cursor",
            "--scope",
            "project",
            "--skill-scope",
            "user",
        ],
    );
    let args = [
        "doctor",
        "--client",
        "cursor",
        "--mcp-scope",
        "project",
        "--skill-scope",
        "user",
    ];
    let run = sandbox.run(&args, "");
    assert!(
        run.expect_ok().stdout.contains("(MCP project, skill user)"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_files_fail_with_not_found_and_exit_1() {
    let sandbox = Sandbox::new("doctor-missing");
    let run = sandbox.run(&["doctor", "--client", "codex"], "");
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout.matches("FAIL").count(), 2, "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("not found at").count(),
        2,
        "{}",
        run.stdout
    );
    sandbox
        .run(&["doctor"], "")
        .expect_error("doctor requires --client.");
}

#[test]
fn each_problem_is_named_without_leaking_anything() {
    let sandbox = Sandbox::new("doctor-problems");
    setup(&sandbox, &["--provider", "copilot"]);
    let path = sandbox.home_file(".copilot/mcp-config.json");
    let good = fs::read_to_string(&path).unwrap();
    let doctor = || sandbox.run(&["doctor", "--client", "copilot"], "");
    let expect = |needle: &str| {
        let run = doctor();
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        assert!(
            run.stdout.contains(needle),
            "no {needle:?} in:\n{}",
            run.stdout
        );
    };

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    expect("chmod 600");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    fs::write(&path, good.replace("\"serve\"", "\"--decoy\", \"serve\"")).unwrap();
    expect("exact command arguments");
    fs::write(&path, good.replace("\"tools\"", "\"toolz\"")).unwrap();
    expect("invalid tools field");
    fs::write(&path, format!("// comment\n{good}")).unwrap();
    expect("JSON parsing failed; no file contents were included in this diagnostic");
    let elsewhere = which_other_program();
    fs::write(&path, good.replace(&this_binary(), &elsewhere)).unwrap();
    expect("is not this aipermission-mcp");
    fs::write(&path, good.replace(&this_binary(), "aipermission-mcp")).unwrap();
    expect("absolute path");

    fs::write(&path, &good).unwrap();
    let skill = sandbox.home_file(".copilot/skills/aipermission-operator/SKILL.md");
    fs::write(&skill, "---\nname: aipermission-operator\n").unwrap();
    expect("closed YAML frontmatter");

    let real = sandbox.root.join("real.json");
    fs::rename(&path, &real).unwrap();
    symlink(&real, &path).unwrap();
    expect("symbolic-link");
}

fn this_binary() -> String {
    crate::support::binary()
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// Another program that exists: the shell.
fn which_other_program() -> String {
    let out = Command::new("sh")
        .args(["-c", "command -v sh"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_skill_only_client_checks_only_its_skill() {
    let sandbox = Sandbox::new("doctor-agents");
    let args = ["install-skill", "--client", "agents", "--scope", "project"];
    sandbox.run(&args, "").expect_ok();
    let run = sandbox.run(&["doctor", "--client", "agents", "--scope", "project"], "");
    run.expect_ok();
    assert!(!run.stdout.contains("MCP config"), "{}", run.stdout);
}

#[test]
fn a_tracked_project_config_fails() {
    let sandbox = Sandbox::new("doctor-tracked");
    Command::new("git")
        .args(["init", "-q"])
        .current_dir(&sandbox.project)
        .status()
        .unwrap();
    sandbox.init(&["--provider", "cursor"]).expect_ok();
    let add = ["add", "-f", ".cursor/mcp.json"];
    assert!(
        Command::new("git")
            .args(add)
            .current_dir(&sandbox.project)
            .status()
            .unwrap()
            .success()
    );
    let run = sandbox.run(
        &["doctor", "--client", "cursor", "--mcp-scope", "project"],
        "",
    );
    assert!(run.stdout.contains("tracked by Git"), "{}", run.stdout);
}

#[test]
fn vscode_comments_and_extra_fields_pass_and_nothing_changes() {
    let sandbox = Sandbox::new("doctor-jsonc");
    setup(&sandbox, &["--provider", "vscode"]);
    let path = sandbox.project_file(".vscode/mcp.json");
    let text = fs::read_to_string(&path).unwrap();
    let edited = format!(
        "// mine\n{}",
        text.replacen("\"args\"", "\"type\": \"stdio\",\n\"args\"", 1)
    );
    fs::write(&path, &edited).unwrap();
    sandbox
        .run(&["doctor", "--client", "vscode"], "")
        .expect_ok();
    assert_eq!(fs::read_to_string(&path).unwrap(), edited);
    fs::write(&path, edited.replace("\"stdio\"", "stdio")).unwrap();
    let run = sandbox.run(&["doctor", "--client", "vscode"], "");
    assert!(run.stdout.contains("JSON parsing failed"), "{}", run.stdout);
}

#[test]
fn a_setup_lock_is_reported_and_left_alone() {
    let sandbox = Sandbox::new("doctor-lock");
    setup(&sandbox, &["--provider", "codex"]);
    let lock = sandbox.home_file(".codex/config.toml.aipermission.lock");
    let record = format!(
        "{{\"pid\": 4242, \"token\": \"{}\", \"hostname\": \"build-01\"}}\n",
        "secret-lock-token"
    );
    fs::write(&lock, &record).unwrap();
    let run = sandbox.run(&["doctor", "--client", "codex"], "");
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stdout.matches("FAIL Setup lock").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("pid=4242, hostname=build-01"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Never remove it while setup is running")
    );
    assert!(!run.stdout.contains("secret-lock-token"));
    assert_eq!(fs::read_to_string(&lock).unwrap(), record);
    fs::remove_file(&lock).unwrap();
    sandbox
        .run(&["doctor", "--client", "codex"], "")
        .expect_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_calls_the_gateway_through_the_sandbox() {
    let gateway = StandIn::start(CANARY).await.unwrap();
    let sandbox = Sandbox::new("doctor-live");
    setup(
        &sandbox,
        &["--provider", "codex", "--api-url", &gateway.url()],
    );
    let run = sandbox.run(&["doctor", "--client", "codex", "--live"], "");
    run.expect_ok();
    assert!(run.stdout.contains("PASS Gateway: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("is reachable; 3 connector targets"),
        "{}",
        run.stdout
    );
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/api/mcp/connector-targets");

    let wrong = StandIn::start("another-token").await.unwrap();
    let path = sandbox.home_file(".codex/config.toml");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace(&gateway.url(), &wrong.url())).unwrap();
    let run = sandbox.run(&["doctor", "--client", "codex", "--live"], "");
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("FAIL Gateway: "), "{}", run.stdout);
}
