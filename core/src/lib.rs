//! The bridge's logic without I/O, shared by the component, the host and
//! the fuzz targets: the loopback URL rule, the timeout setting, the tool
//! catalog, argument checks that turn a tool call into one gateway request,
//! the shaping of gateway answers and failures into tool results, and the
//! client registry and config renderers behind `init` and `doctor`.
//!
//! Nothing here touches the network, files or the environment, so every
//! function can be tested natively and fuzzed.

pub mod args;
pub mod catalog;
pub mod config;
pub mod contracts;
pub mod envelope;
pub mod origin;
pub mod outcome;
pub mod settings;

pub use args::{GatewayRequest, Method};
pub use catalog::{Tool, ToolName};
pub use outcome::ToolResult;
