//! The command line: `serve` (the default) and the built-in help and
//! version. Clients sometimes pass extra words after `serve`; they are
//! accepted and ignored, as the Node bridge does.

use clap::{Parser, Subcommand};

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

const AFTER_HELP: &str = "\
Environment (read by serve):
  AIPERMISSION_API_URL          gateway origin on loopback [default: http://localhost:3210]
  AIPERMISSION_API_TOKEN        the gateway API token (never given to the sandbox)
  AIPERMISSION_HTTP_TIMEOUT_MS  deadline per gateway request [default: 95000, max: 600000]
  AIPERMISSION_MCP_LOG          log filter for stderr [default: warn]

An MCP client starts the server with a config entry such as:
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
}
