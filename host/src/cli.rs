//! The command line: `serve` (the default), `init`, `setup`,
//! `install-skill`, `doctor`, `audit`, and the built-in help and version.
//! Clients sometimes pass extra words after `serve`; they are accepted and
//! ignored, as the Node bridge does. The other commands are strict:
//! unknown, repeated and positional arguments are refused, booleans take
//! `--flag`, `--flag=true` or `--flag=false`, and `--token` is refused so a
//! token never lands in shell history.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Sandboxed MCP bridge to the local AIPermission gateway.
///
/// The bridge lets an AI coding assistant use the connector actions the
/// gateway's operator allows (SSH, Postgres, Redis, Docker, Kubernetes and
/// more) without ever seeing a credential. It speaks MCP over stdio and is
/// meant to be started by an MCP client.
#[derive(Debug, Parser)]
#[command(name = "aipermission-mcp", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server on stdin/stdout (the default)
    #[command(visible_aliases = ["server", "start"])]
    Serve {
        /// Ignored; some clients pass extra arguments.
        #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
        ignored: Vec<String>,
    },
    /// Configure one AI client to start this bridge (writes its MCP config)
    ///
    /// Writes a server entry that launches this binary with `serve` and the
    /// gateway URL and token in its environment. The config file is written
    /// privately (0600), atomically, under a lock, never through a symbolic
    /// link, and never into a file git tracks unless --force is given.
    Init(InitArgs),
    /// Like init, and also install the operator skill for the client
    Setup(SetupArgs),
    /// Install the aipermission-operator skill for a client
    InstallSkill(InstallSkillArgs),
    /// Check a client's MCP config and skill (exit 1 if a check fails)
    Doctor(DoctorArgs),
    /// Show the embedded component's hash, imports, exports and limits
    ///
    /// Lists every import of the sandboxed component with the authority
    /// this host grants through it. With --component, checks another
    /// component against the same allowlist (it is only read, never run)
    /// and exits 1 if it asks for more.
    Audit {
        /// Print a JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Audit this component file instead of the embedded one.
        #[arg(long, value_name = "FILE")]
        component: Option<std::path::PathBuf>,
    },
}

/// Strict booleans: bare is true, `=true`/`=false` work, and the flag
/// never takes the next word as its value.
fn boolean(raw: &str) -> Result<bool, String> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("accepts only true or false".to_owned()),
    }
}

/// Where user-scope and project-scope files are.
#[derive(Debug, Args)]
pub struct Places {
    /// Use this directory as the home for user-scope paths (client home
    /// variables such as CODEX_HOME are then ignored).
    #[arg(long, value_name = "DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub home: Option<String>,
    /// The project directory for project-scope paths [default: the working directory]
    #[arg(long, value_name = "DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub project_dir: Option<String>,
}

impl Places {
    pub fn home(&self) -> Option<PathBuf> {
        self.home.as_ref().map(PathBuf::from)
    }
    pub fn project_dir(&self) -> Option<PathBuf> {
        self.project_dir.as_ref().map(PathBuf::from)
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The client: codex, claude-code, cursor, vscode, copilot, windsurf,
    /// antigravity, antigravity-cli, gemini, grok or custom (asked when omitted)
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub provider: Option<String>,
    /// user or project [default: the client's usual scope]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub scope: Option<String>,
    /// The MCP server name [default: aipermission]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub name: Option<String>,
    /// The gateway URL: http on localhost, 127.0.0.1 or [::1]
    #[arg(long, value_name = "URL", default_value = "http://localhost:3210",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub api_url: String,
    /// Read the token from stdin instead of the hidden prompt
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = boolean)]
    pub token_stdin: bool,
    /// Print the config entry (with YOUR_TOKEN_HERE) and write nothing
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = boolean)]
    pub print: bool,
    /// Write the token even into a config file git tracks
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = boolean)]
    pub force: bool,
    #[command(flatten)]
    pub places: Places,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub init: InitArgs,
    /// user or project for the skill [default: --scope, else the client's usual]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub skill_scope: Option<String>,
    /// A local SKILL.md to install instead of the bundled one
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub skill_source: Option<String>,
}

#[derive(Debug, Args)]
pub struct InstallSkillArgs {
    /// The client (custom prints the skill) [default: codex]
    #[arg(long, value_name = "ID", default_value = "codex",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub client: String,
    /// user or project [default: the client's usual scope]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub scope: Option<String>,
    /// A local SKILL.md to install instead of the bundled one (no URLs)
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub source: Option<String>,
    #[command(flatten)]
    pub places: Places,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The client to check
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub client: Option<String>,
    /// The same as --client
    #[arg(long, value_name = "ID", conflicts_with = "client",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub provider: Option<String>,
    /// user or project for both checks [default: the client's usual scopes]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub scope: Option<String>,
    /// The scope of the MCP config check
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub mcp_scope: Option<String>,
    /// The scope of the skill check
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub skill_scope: Option<String>,
    /// The MCP server name [default: aipermission]
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub name: Option<String>,
    /// Also call list_connector_targets through the sandbox with the
    /// configured URL and token, and report what the gateway answers
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_parser = boolean)]
    pub live: bool,
    #[command(flatten)]
    pub places: Places,
}

/// The answer to `--token`, checked before anything else runs.
pub const TOKEN_FLAG_REFUSED: &str =
    "--token is not supported; use the hidden prompt or --token-stdin";

/// Whether the command line gives a configuring command a `--token`: it
/// is refused before the other arguments are read, so the guidance wins
/// over any other complaint and the value is never repeated.
pub fn gives_token_flag(args: &[std::ffi::OsString]) -> bool {
    let configuring = ["init", "setup", "install-skill", "doctor"];
    let Some(command) = args.get(1).and_then(|a| a.to_str()) else {
        return false;
    };
    configuring.contains(&command)
        && args[2..].iter().any(|arg| {
            let arg = arg.to_string_lossy();
            arg == "--token" || arg.starts_with("--token=")
        })
}

const AFTER_HELP: &str = "\
Environment (read by serve):
  AIPERMISSION_API_URL          gateway origin on loopback [default: http://localhost:3210]
  AIPERMISSION_API_TOKEN        the gateway API token (never given to the sandbox)
  AIPERMISSION_HTTP_TIMEOUT_MS  deadline per gateway request [default: 95000, max: 600000]
  AIPERMISSION_MCP_LOG          log filter for stderr [default: warn]

Security: give the token at the hidden prompt or with --token-stdin; the API
URL must point to localhost, 127.0.0.1 or [::1].

`aipermission-mcp init --provider codex` writes a client's config; an MCP
client then starts the server with an entry such as:
  {\"command\": \"/path/to/aipermission-mcp\", \"args\": [\"serve\"],
   \"env\": {\"AIPERMISSION_API_URL\": \"http://localhost:3210\",
           \"AIPERMISSION_API_TOKEN\": \"<your token>\"}}

Exit status: 0 when the client closes stdin, 1 on a start-up error, 2 on a usage error.";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_accepts_its_aliases_and_extra_words() {
        assert!(
            Cli::try_parse_from(["aipermission-mcp"])
                .unwrap()
                .command
                .is_none()
        );
        for alias in ["serve", "server", "start"] {
            let cli = Cli::try_parse_from(["aipermission-mcp", alias, "--stdio", "x"]).unwrap();
            assert!(
                matches!(cli.command, Some(Command::Serve { .. })),
                "{alias}"
            );
        }
        assert!(Cli::try_parse_from(["aipermission-mcp", "bogus"]).is_err());
    }

    fn init(args: &[&str]) -> Result<InitArgs, clap::Error> {
        let argv = ["aipermission-mcp", "init"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Some(Command::Init(init)) => Ok(init),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn booleans_are_strict_and_never_take_the_next_word() {
        let parsed = init(&["--token-stdin=false", "--print=true", "--force"]).unwrap();
        assert!(!parsed.token_stdin && parsed.print && parsed.force);
        assert!(init(&["--print=yes"]).is_err());
        assert!(init(&["--print", "codex"]).is_err(), "a positional word");
    }

    #[test]
    fn unknown_repeated_empty_and_positional_arguments_are_refused() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| init(args).unwrap_err().kind();
        assert_eq!(kind(&["--install-skill"]), ErrorKind::UnknownArgument);
        assert_eq!(
            kind(&["--name", "a", "--name", "b"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(kind(&["--name="]), ErrorKind::InvalidValue);
        assert_eq!(kind(&["--name", "--print"]), ErrorKind::InvalidValue);
        assert_eq!(kind(&["codex"]), ErrorKind::UnknownArgument);
        let parsed = init(&["--provider=codex", "--api-url", "http://127.0.0.1:1"]).unwrap();
        assert_eq!(parsed.provider.as_deref(), Some("codex"));
    }

    #[test]
    fn a_token_flag_is_caught_before_anything_else() {
        let argv =
            |words: &[&str]| -> Vec<std::ffi::OsString> { words.iter().map(Into::into).collect() };
        assert!(gives_token_flag(&argv(&[
            "x", "init", "--token", "t", "--bogus"
        ])));
        assert!(gives_token_flag(&argv(&["x", "doctor", "--token=t"])));
        assert!(!gives_token_flag(&argv(&["x", "init", "--token-stdin"])));
        assert!(!gives_token_flag(&argv(&["x", "serve", "--token"])));
        assert!(!gives_token_flag(&argv(&["x"])));
    }
}
