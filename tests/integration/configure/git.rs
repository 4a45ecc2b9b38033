//! Project configs in a git repository: never written into a tracked
//! file unless forced, kept out of commits with anchored entries in
//! `info/exclude` that git is asked to confirm, and nothing written when
//! git says anything unexpected.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{CANARY, Sandbox, read_config};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn repo(sandbox: &Sandbox) {
    git(&sandbox.project, &["init", "-q", "."]);
}

#[test]
fn a_project_config_is_excluded_and_git_confirms_it() {
    let sandbox = Sandbox::new("git-exclude");
    repo(&sandbox);
    let run = sandbox.init(&["--provider", "cursor"]);
    assert!(
        run.expect_ok()
            .stdout
            .contains("Git: added .cursor/mcp.json to .git/info/exclude"),
        "{}",
        run.stdout
    );
    let exclude = fs::read_to_string(sandbox.project_file(".git/info/exclude")).unwrap();
    for line in [
        "/.cursor/mcp.json",
        "/.cursor/.mcp.json.aipermission-*.tmp",
        "/.cursor/.mcp.json.aipermission-stage-*",
        "/.cursor/mcp.json.aipermission.lock",
        "/.cursor/.mcp.json.aipermission-recovery",
    ] {
        assert!(
            exclude.lines().any(|l| l == line),
            "missing {line} in:\n{exclude}"
        );
    }
    assert_eq!(
        git(&sandbox.project, &["status", "--porcelain", "--ignored=no"]),
        ""
    );
    git(
        &sandbox.project,
        &["check-ignore", "-q", ".cursor/mcp.json"],
    );

    // A second run finds the entries and adds none.
    sandbox
        .init(&["--provider", "cursor", "--name", "two"])
        .expect_ok();
    let again = fs::read_to_string(sandbox.project_file(".git/info/exclude")).unwrap();
    assert_eq!(again, exclude);
}

#[test]
fn a_tracked_config_is_refused_unless_forced() {
    let sandbox = Sandbox::new("git-tracked");
    repo(&sandbox);
    fs::write(sandbox.project_file(".mcp.json"), "{}\n").unwrap();
    git(&sandbox.project, &["add", ".mcp.json"]);
    sandbox
        .init(&["--provider", "claude-code"])
        .expect_error("Refusing to write AIPERMISSION_API_TOKEN into tracked git file: .mcp.json");
    assert_eq!(
        fs::read_to_string(sandbox.project_file(".mcp.json")).unwrap(),
        "{}\n"
    );

    sandbox
        .init(&["--provider", "claude-code", "--force"])
        .expect_ok();
    let config = read_config("json", &sandbox.project_file(".mcp.json"));
    assert_eq!(
        config["mcpServers"]["aipermission"]["env"]["AIPERMISSION_API_TOKEN"],
        CANARY
    );
    // The files around it are still kept out of git.
    git(
        &sandbox.project,
        &["check-ignore", "-q", "..mcp.json.aipermission-1-x.tmp"],
    );
    git(
        &sandbox.project,
        &["check-ignore", "-q", ".mcp.json.aipermission.lock"],
    );
}

#[test]
fn a_gitignore_that_lets_the_config_through_stops_the_write() {
    let sandbox = Sandbox::new("git-negation");
    repo(&sandbox);
    fs::write(sandbox.project_file(".gitignore"), "!.cursor/mcp.json\n").unwrap();
    // A .gitignore outranks info/exclude, so this negation wins.
    sandbox
        .init(&["--provider", "cursor"])
        .expect_error("Git still permits sensitive MCP path: .cursor/mcp.json");
    assert!(!sandbox.project_file(".cursor/mcp.json").exists());
    assert!(sandbox.files_with_canary().is_empty());
}

#[test]
fn a_broken_repository_fails_closed() {
    let sandbox = Sandbox::new("git-corrupt");
    repo(&sandbox);
    fs::write(sandbox.project_file(".git/index"), "not an index").unwrap();
    let run = sandbox.init(&["--provider", "cursor"]);
    assert!(!run.ok());
    assert!(run.stderr.contains("Git"), "{}", run.stderr);
    assert!(sandbox.files_with_canary().is_empty());

    let sandbox = Sandbox::new("git-unreadable-exclude");
    repo(&sandbox);
    let exclude = sandbox.project_file(".git/info/exclude");
    let _ = fs::remove_file(&exclude);
    fs::create_dir_all(&exclude).unwrap();
    sandbox
        .init(&["--provider", "cursor"])
        .expect_error("Could not protect MCP config with local Git excludes");
    assert!(sandbox.files_with_canary().is_empty());
}

#[test]
fn linked_worktrees_and_odd_directory_names_are_protected() {
    let sandbox = Sandbox::new("git-worktree");
    repo(&sandbox);
    fs::write(sandbox.project_file("README"), "x").unwrap();
    git(&sandbox.project, &["add", "README"]);
    git(&sandbox.project, &["commit", "-qm", "init"]);
    let tree = sandbox.root.join("component [x]*? #!");
    git(
        &sandbox.project,
        &["worktree", "add", "-q", "--detach", tree.to_str().unwrap()],
    );

    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "cursor"]);
    command.current_dir(&tree);
    sandbox.run_command(command, CANARY).expect_ok();
    assert_eq!(git(&tree, &["status", "--porcelain"]), "");
    git(&tree, &["check-ignore", "-q", ".cursor/mcp.json"]);
    let common = sandbox.project_file(".git/info/exclude");
    assert!(
        fs::read_to_string(common)
            .unwrap()
            .contains("/.cursor/mcp.json")
    );

    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "cursor"]);
    let nested = tree.join("sub [dir] #1");
    fs::create_dir(&nested).unwrap();
    command.current_dir(&tree).arg("--project-dir").arg(&nested);
    sandbox.run_command(command, CANARY).expect_ok();
    assert_eq!(git(&tree, &["status", "--porcelain"]), "");
    let exclude = fs::read_to_string(sandbox.project_file(".git/info/exclude")).unwrap();
    assert!(
        exclude.contains("/sub\\ \\[dir\\]\\ \\#1/.cursor/mcp.json"),
        "escaped literally:\n{exclude}"
    );
}

#[test]
fn a_submodule_keeps_its_excludes_in_its_own_git_directory() {
    let sandbox = Sandbox::new("git-submodule");
    let lib = sandbox.root.join("lib");
    fs::create_dir(&lib).unwrap();
    git(&lib, &["init", "-q", "."]);
    fs::write(lib.join("README"), "lib").unwrap();
    git(&lib, &["add", "README"]);
    git(&lib, &["commit", "-qm", "lib"]);
    repo(&sandbox);
    let url = lib.to_str().unwrap();
    git(
        &sandbox.project,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            url,
            "vendor/lib",
        ],
    );

    let inner = sandbox.project_file("vendor/lib");
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "cursor"]);
    command.current_dir(&inner);
    sandbox.run_command(command, CANARY).expect_ok();
    assert_eq!(git(&inner, &["status", "--porcelain"]), "");
    let module_exclude = sandbox.project_file(".git/modules/vendor/lib/info/exclude");
    assert!(
        fs::read_to_string(module_exclude)
            .unwrap()
            .contains("/.cursor/mcp.json")
    );
}

#[test]
fn a_broken_git_link_inside_a_repository_fails_closed() {
    let sandbox = Sandbox::new("git-broken-link");
    repo(&sandbox);
    let sub = sandbox.project_file("sub");
    fs::create_dir(&sub).unwrap();
    // What a moved or deleted submodule leaves: git calls this "not a git
    // repository", but the outer repository would commit the token.
    fs::write(sub.join(".git"), "gitdir: /nonexistent/modules/sub\n").unwrap();
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "cursor"]);
    command.arg("--project-dir").arg(&sub);
    sandbox
        .run_command(command, CANARY)
        .expect_error("Could not inspect Git repository");
    assert!(sandbox.files_with_canary().is_empty());
}
