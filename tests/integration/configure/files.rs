//! How config files are written: never through a symbolic link, the
//! previous version kept in one private recovery slot, crash leftovers
//! cleaned by age only, and a lock that is never stolen.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::{Duration, SystemTime};

use super::{CANARY, Sandbox, mode, read_config};

#[test]
fn a_symlinked_config_or_directory_is_refused_and_its_target_untouched() {
    let sandbox = Sandbox::new("symlinks");
    let elsewhere = sandbox.root.join("elsewhere.json");
    fs::write(&elsewhere, "{}").unwrap();
    fs::create_dir_all(sandbox.project_file(".cursor")).unwrap();
    symlink(&elsewhere, sandbox.project_file(".cursor/mcp.json")).unwrap();
    sandbox
        .init(&["--provider", "cursor"])
        .expect_error("Refusing to replace symbolic-link config");
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "{}");

    let real_dir = sandbox.root.join("real-codex");
    fs::create_dir(&real_dir).unwrap();
    symlink(&real_dir, sandbox.home_file(".codex")).unwrap();
    sandbox
        .init(&["--provider", "codex"])
        .expect_error("Refusing private config path through symbolic link");
    assert!(fs::read_dir(&real_dir).unwrap().next().is_none());
    assert!(sandbox.files_with_canary().is_empty());
}

#[test]
fn the_previous_config_is_kept_in_one_private_slot() {
    let sandbox = Sandbox::new("recovery");
    let path = sandbox.home_file(".copilot/mcp-config.json");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = "{ \"mcpServers\" : {\"mine\": {\"command\": \"y\"}} }";
    fs::write(&path, original).unwrap();
    // A config others could read: its copy must not be readable too.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let run = sandbox.init(&["--provider", "copilot"]);
    let slot = sandbox.home_file(".copilot/.mcp-config.json.aipermission-recovery");
    let previous = slot.join("previous");
    assert!(
        run.expect_ok().stdout.contains(&format!(
            "Previous config recovery (may contain secrets): {}",
            previous.display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(&previous).unwrap(),
        original,
        "byte for byte"
    );
    assert_eq!(mode(&slot), 0o700);

    let first = fs::read_to_string(&path).unwrap();
    sandbox
        .init(&["--provider", "copilot", "--name", "second"])
        .expect_ok();
    assert_eq!(
        fs::read_to_string(&previous).unwrap(),
        first,
        "the slot rotates"
    );
    let names: Vec<_> = fs::read_dir(&slot)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["previous"]);
    assert_eq!(mode(&previous), 0o600);
}

#[test]
fn old_temp_files_are_removed_and_fresh_or_unrelated_ones_kept() {
    let sandbox = Sandbox::new("stale");
    let dir = sandbox.home_file(".codex");
    fs::create_dir_all(&dir).unwrap();
    let old = dir.join(".config.toml.aipermission-1-00ff.tmp");
    let fresh = dir.join(".config.toml.aipermission-2-11ee.tmp");
    let unrelated = dir.join(".other.aipermission-3-22dd.tmp");
    for file in [&old, &fresh, &unrelated] {
        fs::write(file, "partial").unwrap();
    }
    let two_days_ago = SystemTime::now() - Duration::from_secs(48 * 3600);
    for file in [&old, &unrelated] {
        fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
    }
    sandbox.init(&["--provider", "codex"]).expect_ok();
    assert!(!old.exists());
    assert!(fresh.exists() && unrelated.exists());
}

#[test]
fn a_lock_held_by_someone_else_is_never_stolen() {
    let sandbox = Sandbox::new("lock");
    let path = sandbox.home_file(".codex/config.toml");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, "model = \"o4\"\n").unwrap();
    let lock = sandbox.home_file(".codex/config.toml.aipermission.lock");
    let record = "{\"pid\": 999999, \"token\": \"theirs\"}\n";
    fs::write(&lock, record).unwrap();
    let run = sandbox.init(&["--provider", "codex"]);
    run.expect_error("Timed out waiting for private config lock");
    assert!(
        run.stderr.contains(&lock.display().to_string()),
        "names the lock to remove"
    );
    assert_eq!(fs::read_to_string(&lock).unwrap(), record);
    assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"o4\"\n");

    fs::remove_file(&lock).unwrap();
    sandbox.init(&["--provider", "codex"]).expect_ok();
    assert!(!lock.exists(), "our own lock is released");
    let config = read_config("toml", &path);
    assert_eq!(config["model"], "o4");
    assert_eq!(
        config["mcp_servers"]["aipermission"]["env"]["AIPERMISSION_API_TOKEN"],
        CANARY
    );
}

#[test]
fn a_run_stopped_after_keeping_the_old_file_does_not_block_later_runs() {
    let sandbox = Sandbox::new("recovery-interrupted");
    sandbox.init(&["--provider", "codex"]).expect_ok();
    let path = sandbox.home_file(".codex/config.toml");
    let slot = sandbox.home_file(".codex/.config.toml.aipermission-recovery");
    // What a run killed between keeping and replacing leaves behind.
    fs::create_dir_all(&slot).unwrap();
    fs::set_permissions(&slot, fs::Permissions::from_mode(0o700)).unwrap();
    fs::hard_link(&path, slot.join("previous")).unwrap();
    for name in ["one", "two", "three"] {
        sandbox
            .init(&["--provider", "codex", "--name", name])
            .expect_ok();
    }
    let names: Vec<_> = fs::read_dir(&slot)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["previous"]);
}

#[test]
fn a_home_or_project_reached_through_a_link_is_fine() {
    let sandbox = Sandbox::new("linked-roots");
    let home_link = sandbox.root.join("home-link");
    let project_link = sandbox.root.join("project-link");
    symlink(&sandbox.home, &home_link).unwrap();
    symlink(&sandbox.project, &project_link).unwrap();
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "codex"]);
    command.env("HOME", &home_link);
    sandbox.run_command(command, CANARY).expect_ok();
    assert!(sandbox.home_file(".codex/config.toml").exists());
    let mut command = sandbox.command(&["init", "--token-stdin", "--provider", "cursor"]);
    command.arg("--project-dir").arg(&project_link);
    sandbox.run_command(command, CANARY).expect_ok();
    assert!(sandbox.project_file(".cursor/mcp.json").exists());
}
