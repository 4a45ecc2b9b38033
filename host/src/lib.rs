//! The aipermission-mcp host as a library: the CLI, the MCP server, the
//! wasmtime runtime and its egress policy. The `aipermission-mcp` binary
//! is a thin `main` over it; the integration tests use the runtime
//! directly to run hostile components under the production linker and
//! policy.

pub mod audit;
pub mod cache;
pub mod cli;
pub mod configure;
pub mod egress;
pub mod runtime;
pub mod serve;
pub mod server;
pub mod settings;
pub mod stdio;
