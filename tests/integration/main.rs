//! Integration tests: the real `aipermission-mcp` binary, just built by
//! cargo, driven by real MCP clients against the stand-in gateway.

mod cache;
mod cancel;
mod cli;
mod configure;
mod egress;
mod embed;
mod flow;
mod handshake;
mod hostile;
mod load;
mod python;
mod robustness;
mod support;
mod transport;
mod vault;
