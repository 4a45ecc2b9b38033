//! `init`, `setup`, `install-skill` and `doctor` run as a user would run
//! them: the real binary in a scratch home and project, the written files
//! read back with parsers that are not ours (Python's `json` and `tomllib`,
//! VS Code's `jsonc-parser` from npm). Every run checks that the canary
//! token never reaches stdout or stderr.

mod doctor;
mod files;
mod git;
mod init;
mod prompt;
mod skill;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{binary, workspace};

/// The token every test configures; it must appear in config files only.
pub const CANARY: &str = "aip_SETUP_CANARY_5d2e9b71";

/// Client home variables cleared for every run, so the machine's own
/// settings cannot steer a test.
const HOME_VARS: [&str; 5] = [
    "CODEX_HOME",
    "COPILOT_HOME",
    "GEMINI_CLI_HOME",
    "GROK_HOME",
    "CLAUDE_CONFIG_DIR",
];

/// A scratch home and project directory, removed when dropped.
pub struct Sandbox {
    pub root: PathBuf,
    pub home: PathBuf,
    pub project: PathBuf,
}

/// What a command did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the output when the command failed.
    #[track_caller]
    pub fn expect_ok(&self) -> &Run {
        assert!(
            self.ok(),
            "failed ({:?}):\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command failed with `needle` in its stderr.
    #[track_caller]
    pub fn expect_error(&self, needle: &str) -> &Run {
        assert!(!self.ok(), "succeeded:\n{}", self.stdout);
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let root = std::env::temp_dir()
            .join("aipermission-configure-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (home, project) = (root.join("home"), root.join("project"));
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&project).unwrap();
        Sandbox {
            root,
            home,
            project,
        }
    }

    /// The command as a test runs it: in the project, with this home.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env(
                "XDG_CACHE_HOME",
                std::env::temp_dir().join("aipermission-mcp-tests"),
            );
        for var in HOME_VARS {
            command.env_remove(var);
        }
        command
    }

    /// Runs the binary with `stdin` piped in.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        self.run_command(self.command(args), stdin)
    }

    pub fn run_command(&self, mut command: Command, stdin: &str) -> Run {
        use std::io::Write;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The command may exit before reading stdin; that is fine.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let out = child.wait_with_output().unwrap();
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // Checked for every run; the message never repeats the token.
        assert!(!run.stdout.contains(CANARY), "the token reached stdout");
        assert!(!run.stderr.contains(CANARY), "the token reached stderr");
        run
    }

    /// `init` with the canary on stdin (`--token-stdin`).
    pub fn init(&self, args: &[&str]) -> Run {
        let mut all = vec!["init", "--token-stdin"];
        all.extend(args);
        self.run(&all, CANARY)
    }

    pub fn home_file(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    pub fn project_file(&self, rel: &str) -> PathBuf {
        self.project.join(rel)
    }

    /// Every file under the sandbox that holds the canary.
    pub fn files_with_canary(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file()
                    && fs::read(entry.path())
                        .unwrap()
                        .windows(CANARY.len())
                        .any(|w| w == CANARY.as_bytes())
                {
                    found.push(entry.path());
                }
            }
        }
        found.sort();
        found
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The file's permission bits.
pub fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Reads a config as its client would: `json` and `toml` with Python,
/// `jsonc` with VS Code's parser under Node. Panics on a parse error.
pub fn read_config(kind: &str, path: &Path) -> Value {
    let out = match kind {
        "jsonc" => Command::new("node")
            .arg(workspace().join("tests/node/read-config.mjs"))
            .args(["jsonc".as_ref(), path.as_os_str()])
            .output()
            .expect("node runs (and `just setup` installed tests/node)"),
        _ => Command::new(crate::python::python())
            .arg(workspace().join("tests/python/read_config.py"))
            .args([kind.as_ref(), path.as_os_str()])
            .output()
            .unwrap(),
    };
    assert!(
        out.status.success(),
        "{kind} reader refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The entry init writes, as a client reads it, for `name` under `root`.
pub fn entry<'v>(config: &'v Value, root: &str, name: &str) -> &'v Value {
    let entry = &config[root][name];
    assert!(entry.is_object(), "no {root}.{name} entry");
    entry
}

/// Checks an entry launches this binary with the canary and the URL.
#[track_caller]
pub fn assert_launches_bridge(entry: &Value, url: &str) {
    assert_eq!(
        entry["command"],
        binary().canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(entry["args"], serde_json::json!(["serve"]));
    assert_eq!(entry["env"]["AIPERMISSION_API_URL"], url);
    assert!(
        entry["env"]["AIPERMISSION_API_TOKEN"] == CANARY,
        "the token was not written"
    );
}
