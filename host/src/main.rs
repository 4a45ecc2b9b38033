//! `aipermission-mcp`: the sandboxed MCP bridge to the local AIPermission
//! gateway. This file parses the command line, sets up logging and maps
//! the outcome to an exit status; the work lives in the modules.

use std::process::ExitCode;

use aipermission_mcp::{audit, cli, serve};
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();

    let result = match cli.command {
        None | Some(cli::Command::Serve { .. }) => serve::run(),
        Some(cli::Command::Audit { json, component }) => audit::run(json, component.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("aipermission-mcp: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `AIPERMISSION_MCP_LOG` (then `RUST_LOG`).
/// By default only the bridge's warnings show, so a clean session writes
/// nothing; rmcp reports every JSON-RPC error answer as a warning, which
/// the client already receives, so only its errors show.
fn init_logging() {
    use tracing_subscriber::EnvFilter;

    let filter = ["AIPERMISSION_MCP_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| EnvFilter::try_from_env(var).ok())
        .unwrap_or_else(|| EnvFilter::new("warn,rmcp=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
