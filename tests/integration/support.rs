//! Shared pieces of the integration tests.

use std::path::{Path, PathBuf};

use aipermission_testkit::StandIn;
use aipermission_testkit::client::McpSession;

/// A token that must never appear anywhere but in the gateway's
/// Authorization header.
pub const TOKEN: &str = "aip_TEST_CANARY_c4f1e8a92b";

/// The server binary cargo built for this test run.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aipermission-mcp"))
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_owned()
}

/// A session with the server pointed at `gateway` with the test token.
pub async fn session(gateway: &StandIn) -> McpSession {
    let url = gateway.url();
    McpSession::start(
        binary(),
        &[
            ("AIPERMISSION_API_URL", &url),
            ("AIPERMISSION_API_TOKEN", TOKEN),
        ],
    )
    .await
    .expect("the server starts and completes the handshake")
}

/// A stand-in gateway accepting the test token.
pub async fn gateway() -> StandIn {
    StandIn::start(TOKEN)
        .await
        .expect("the stand-in gateway starts")
}

/// A JSON object literal as an argument map.
pub fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("arguments must be an object, not {other}"),
    }
}

/// The origin of a loopback port that nothing listens on (it was bound
/// and released), so a request there is refused before dispatch.
pub async fn closed_port_url() -> String {
    let closed = aipermission_testkit::Decoy::bind("127.0.0.1")
        .await
        .unwrap();
    format!("http://127.0.0.1:{}", closed.port())
}
