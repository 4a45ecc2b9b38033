//! Test support for aipermission-mcp: a stand-in AIPermission gateway that
//! follows the gateway's HTTP contract for the MCP routes, decoy listeners
//! that count connections, and helpers that start the real server binary
//! under a real MCP client. Used by the integration tests and `just demo`.

pub mod client;
pub mod decoy;
pub mod gateway;

pub use decoy::Decoy;
pub use gateway::{Fault, Seen, StandIn, Step};
