//! The operator skill: installed where each client reads skills, the same
//! bytes for every client, 0644; local sources only, checked first.

use std::fs;
use std::os::unix::fs::symlink;

use super::{CANARY, Sandbox, mode};
use crate::support::workspace;

fn bundled() -> String {
    fs::read_to_string(workspace().join("skills/aipermission-operator/SKILL.md")).unwrap()
}

/// (client, scope, directory below home or project).
const TARGETS: [(&str, &str, &str); 22] = [
    ("codex", "user", ".agents/skills"),
    ("codex", "project", ".agents/skills"),
    ("claude-code", "user", ".claude/skills"),
    ("claude-code", "project", ".claude/skills"),
    ("cursor", "user", ".cursor/skills"),
    ("cursor", "project", ".cursor/skills"),
    ("vscode", "user", ".copilot/skills"),
    ("vscode", "project", ".github/skills"),
    ("copilot", "user", ".copilot/skills"),
    ("copilot", "project", ".github/skills"),
    ("windsurf", "user", ".codeium/windsurf/skills"),
    ("windsurf", "project", ".windsurf/skills"),
    ("antigravity", "user", ".gemini/config/skills"),
    ("antigravity", "project", ".agents/skills"),
    ("antigravity-cli", "user", ".gemini/antigravity-cli/skills"),
    ("antigravity-cli", "project", ".agents/skills"),
    ("gemini", "user", ".gemini/skills"),
    ("gemini", "project", ".gemini/skills"),
    ("grok", "user", ".grok/skills"),
    ("grok", "project", ".grok/skills"),
    ("agents", "user", ".agents/skills"),
    ("agents", "project", ".agents/skills"),
];

#[test]
fn every_client_gets_the_same_skill_where_it_reads_skills() {
    let expected = bundled();
    for (client, scope, dir) in TARGETS {
        let sandbox = Sandbox::new(&format!("skill-{client}-{scope}"));
        let run = sandbox.run(&["install-skill", "--client", client, "--scope", scope], "");
        run.expect_ok();
        let base = if scope == "user" {
            &sandbox.home
        } else {
            &sandbox.project
        };
        let path = base.join(dir).join("aipermission-operator/SKILL.md");
        assert!(
            run.stdout.contains(&path.display().to_string()),
            "{}",
            run.stdout
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            expected,
            "{client} {scope}"
        );
        assert_eq!(mode(&path), 0o644);
    }
}

#[test]
fn custom_prints_the_skill_and_the_default_client_is_codex() {
    let sandbox = Sandbox::new("skill-custom");
    let run = sandbox.run(&["install-skill", "--client", "custom"], "");
    assert_eq!(run.expect_ok().stdout, bundled());
    sandbox.run(&["install-skill"], "").expect_ok();
    assert!(
        sandbox
            .home_file(".agents/skills/aipermission-operator/SKILL.md")
            .exists()
    );
}

#[test]
fn sources_are_local_files_that_pass_the_checks() {
    let sandbox = Sandbox::new("skill-source");
    for url in ["https://example.com/SKILL.md", "HTTP://localhost/SKILL.md"] {
        sandbox
            .run(&["install-skill", "--source", url], "")
            .expect_error("remote skill sources are not supported");
    }
    let source = sandbox.root.join("mine.md");
    let text = "---\nname: aipermission-operator\ndescription: Mine.\n---\nDo the thing.";
    fs::write(&source, text).unwrap();
    let source_arg = source.to_str().unwrap();
    sandbox
        .run(
            &[
                "install-skill",
                "--client",
                "grok",
                "--scope",
                "project",
                "--source",
                source_arg,
            ],
            "",
        )
        .expect_ok();
    let installed = sandbox.project_file(".grok/skills/aipermission-operator/SKILL.md");
    assert_eq!(fs::read_to_string(&installed).unwrap(), format!("{text}\n"));

    for (broken, why) in [
        (
            "---\nname: aipermission-operator\n",
            "closed YAML frontmatter",
        ),
        (
            "---\nname: other\ndescription: d\n---\nx",
            "exact skill name",
        ),
        (
            "---\nname: aipermission-operator\n---\nx",
            "include a description",
        ),
        (
            "---\nname: aipermission-operator\ndescription: d\n---\n",
            "instructions after",
        ),
    ] {
        fs::write(&source, broken).unwrap();
        sandbox
            .run(&["install-skill", "--source", source_arg], "")
            .expect_error(why);
    }
}

#[test]
fn an_existing_skill_is_replaced_whatever_it_holds() {
    let sandbox = Sandbox::new("skill-replace");
    let path = sandbox.home_file(".agents/skills/aipermission-operator/SKILL.md");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, b"\xff\xfe not text").unwrap();
    sandbox.run(&["install-skill"], "").expect_ok();
    assert_eq!(fs::read_to_string(&path).unwrap(), bundled());
}

#[test]
fn a_symlinked_skill_path_is_refused() {
    let sandbox = Sandbox::new("skill-symlink");
    let elsewhere = sandbox.root.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::create_dir_all(sandbox.home_file(".agents")).unwrap();
    symlink(&elsewhere, sandbox.home_file(".agents/skills")).unwrap();
    sandbox
        .run(&["install-skill"], "")
        .expect_error("symbolic link");
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
}

#[test]
fn setup_writes_the_config_then_the_skill_and_checks_the_skill_first() {
    let sandbox = Sandbox::new("setup");
    let bad = sandbox.root.join("bad.md");
    fs::write(&bad, "no frontmatter").unwrap();
    let args = [
        "setup",
        "--provider",
        "codex",
        "--token-stdin",
        "--skill-source",
    ];
    let mut with_bad = args.to_vec();
    with_bad.push(bad.to_str().unwrap());
    sandbox
        .run(&with_bad, CANARY)
        .expect_error("closed YAML frontmatter");
    assert!(
        fs::read_dir(&sandbox.home).unwrap().next().is_none(),
        "no config written"
    );

    // A config that cannot be updated stops setup before the skill.
    let vscode = sandbox.project_file(".vscode/mcp.json");
    fs::create_dir_all(vscode.parent().unwrap()).unwrap();
    fs::write(&vscode, "{ \"servers\": { /* open").unwrap();
    sandbox
        .run(&["setup", "--provider", "vscode", "--token-stdin"], CANARY)
        .expect_error("Could not parse VS Code JSONC config");
    assert!(!sandbox.project_file(".github").exists(), "no skill");

    let run = sandbox.run(&["setup", "--provider", "codex", "--token-stdin"], CANARY);
    run.expect_ok();
    let skill = sandbox.home_file(".agents/skills/aipermission-operator/SKILL.md");
    assert_eq!(fs::read_to_string(&skill).unwrap(), bundled());
    assert!(run.stdout.contains(&skill.display().to_string()));
    assert_eq!(
        sandbox.files_with_canary(),
        [sandbox.home_file(".codex/config.toml")]
    );
}
