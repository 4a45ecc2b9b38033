//! `aipermission-mcp`: the sandboxed MCP bridge to the local AIPermission
//! gateway. This file parses the command line, sets up logging and maps
//! the outcome to an exit status; the work lives in the modules.

use std::process::ExitCode;

use aipermission_mcp::configure::{self, terminal::Interrupted};
use aipermission_mcp::{audit, cli, serve};
use clap::Parser;

fn main() -> ExitCode {
    std::sync::LazyLock::force(&configure::lock::PROCESS_STARTED);
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if cli::gives_token_flag(&args) {
        eprintln!("aipermission-mcp: {}", cli::TOKEN_FLAG_REFUSED);
        return ExitCode::FAILURE;
    }
    let cli = cli::Cli::parse_from(args);
    init_logging();

    use cli::Command;
    let result = match cli.command {
        None | Some(Command::Serve { .. }) => serve::run(),
        Some(Command::Init(args)) => configure::init::run_init(args),
        Some(Command::Setup(args)) => configure::init::run_setup(args),
        Some(Command::InstallSkill(args)) => configure::skill::run(args),
        Some(Command::Doctor(args)) => configure::doctor::run(args),
        Some(Command::Audit { json, component }) => audit::run(json, component.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<Interrupted>() => {
            eprintln!("aipermission-mcp: {err}");
            ExitCode::from(130)
        }
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
