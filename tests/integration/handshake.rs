//! The MCP handshake and the tool catalog, in both protocol eras, with no
//! gateway running.

use aipermission_testkit::Decoy;
use aipermission_testkit::client::{McpSession, RawSession};
use serde_json::{Value, json};

use crate::support::{TOKEN, args, binary};

/// Annotations as the reference lists them: read-only, destructive,
/// idempotent, open-world.
const CATALOG: [(&str, [bool; 4]); 9] = [
    ("list_connector_targets", [true, false, true, false]),
    ("get_connector_help", [true, false, true, false]),
    ("get_connector_actions", [true, false, true, false]),
    ("call_connector_action", [false, true, false, true]),
    ("get_connector_action_request", [true, false, true, false]),
    ("list_vault_items", [true, false, true, false]),
    ("call_vault_action", [false, true, false, true]),
    ("get_vault_action_request", [true, false, true, false]),
    ("cancel_vault_action_request", [false, true, false, false]),
];

/// Tools of the Node bridge that were retired and must not come back.
const RETIRED: [&str; 6] = [
    "list_servers",
    "exec",
    "read_console",
    "get_request",
    "start_file_download",
    "upload_files",
];

#[tokio::test]
async fn handshake_and_tools_list_work_without_a_gateway_and_write_nothing_to_stderr() {
    // A closed port: nothing listens, and nothing must be asked at start.
    let nobody = Decoy::bind("127.0.0.1").await.unwrap();
    let url = format!("http://127.0.0.1:{}", nobody.port());
    let session = McpSession::start(
        binary(),
        &[
            ("AIPERMISSION_API_URL", &url),
            ("AIPERMISSION_API_TOKEN", TOKEN),
        ],
    )
    .await
    .unwrap();

    let info = session
        .client
        .peer_info()
        .expect("the server identified itself");
    let server = info.server_info.as_ref().expect("server info");
    assert_eq!(server.name, "aipermission");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.len() <= 512);
    for phrase in [
        "list_connector_targets",
        "approval_pending or running",
        "untrusted data",
        "Never put raw secrets in tool input",
        "idempotency_key",
    ] {
        assert!(
            instructions.contains(phrase),
            "instructions lack {phrase:?}"
        );
    }

    let tools = session.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, CATALOG.map(|(name, _)| name));
    assert!(RETIRED.iter().all(|retired| !names.contains(retired)));
    for (tool, (_, hints)) in tools.iter().zip(CATALOG) {
        let a = tool.annotations.as_ref().expect("annotations");
        let got = [
            a.read_only_hint,
            a.destructive_hint,
            a.idempotent_hint,
            a.open_world_hint,
        ];
        assert_eq!(got, hints.map(Some), "{}", tool.name);
        assert!(a.title.is_none());
        assert!(
            tool.output_schema.is_none(),
            "no outputSchema is declared yet"
        );
        assert!(!tool.description.as_deref().unwrap_or("").is_empty());
        assert_eq!(tool.input_schema["type"], "object");
        assert_eq!(tool.input_schema["additionalProperties"], false);
    }
    let call = &tools[3].input_schema;
    assert_eq!(
        call["required"],
        json!(["target_ref", "action_name", "idempotency_key"])
    );
    assert_eq!(call["properties"]["input"]["type"], "object");
    assert_eq!(
        tools[4].input_schema["properties"]["request_id"]["type"],
        "integer"
    );
    let vault = &tools[6].input_schema;
    assert_eq!(
        vault["required"],
        json!([
            "project_ref",
            "action_name",
            "input",
            "reason",
            "idempotency_key"
        ])
    );
    assert_eq!(
        vault["properties"]["action_name"]["enum"],
        json!(["generate_item", "restart_session_with_environment"])
    );
    assert!(tools[5].input_schema.get("required").is_none());

    let stderr = session.finish().await.unwrap();
    assert_eq!(stderr, "", "a clean session writes nothing to stderr");
    assert_eq!(
        nobody.accepted(),
        0,
        "nothing contacts the gateway at start"
    );
}

#[tokio::test]
async fn initialize_negotiates_every_legacy_version() {
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut raw = RawSession::start(binary(), &[("AIPERMISSION_API_TOKEN", TOKEN)]).unwrap();
        let answer = raw.initialize(version).await.unwrap();
        let result = &answer["result"];
        assert_eq!(result["protocolVersion"], version);
        assert_eq!(result["serverInfo"]["name"], "aipermission");
        assert!(result["capabilities"]["tools"].is_object());
        raw.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .await
            .unwrap();
        let listed = raw.answer(1).await.unwrap();
        assert_eq!(
            listed["result"]["tools"].as_array().map(Vec::len),
            Some(9),
            "{version}"
        );
        let (status, _, stderr) = raw.wait().await.unwrap();
        assert!(status.success());
        assert_eq!(stderr, "");
    }
}

/// `_meta` a 2026-07-28 request carries instead of a handshake.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"}
    })
}

#[tokio::test]
async fn the_stateless_era_discovers_and_lists_without_initialize() {
    let url = crate::support::closed_port_url().await;
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
        "params": {"_meta": modern_meta()}});
    raw.send(&discover).await.unwrap();
    let found = raw.answer(1).await.unwrap();
    let result = &found["result"];
    let versions = result["supportedVersions"]
        .as_array()
        .expect("supportedVersions");
    assert!(versions.contains(&json!("2026-07-28")), "{result}");
    assert!(versions.contains(&json!("2025-11-25")), "{result}");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(
        result["instructions"]
            .as_str()
            .unwrap_or("")
            .contains("list_connector_targets")
    );

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list",
        "params": {"_meta": modern_meta()}});
    raw.send(&list).await.unwrap();
    let listed = raw.answer(2).await.unwrap();
    assert_eq!(
        listed["result"]["tools"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );
    assert!(listed["result"]["ttlMs"].is_u64(), "{listed}");
    assert!(listed["result"]["cacheScope"].is_string(), "{listed}");

    // A tool call works statelessly too; with no gateway it is a tool error.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "_meta": modern_meta(), "name": "get_connector_action_request",
        "arguments": {"request_id": 1}}});
    raw.send(&call).await.unwrap();
    let called = raw.answer(3).await.unwrap();
    assert_eq!(called["result"]["isError"], true, "{called}");
    let text = called["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("failed before request dispatch"), "{text}");
    let (status, _, stderr) = raw.wait().await.unwrap();
    assert!(status.success());
    assert_eq!(stderr, "");
}

#[tokio::test]
async fn unknown_tools_are_protocol_errors() {
    let mut raw = RawSession::start(binary(), &[("AIPERMISSION_API_TOKEN", TOKEN)]).unwrap();
    raw.initialize("2025-11-25").await.unwrap();
    for (id, name) in [(1, "exec"), (2, "list_servers"), (3, "")] {
        raw.call(id, name, args(json!({}))).await.unwrap();
        let answer = raw.answer(id).await.unwrap();
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
    }
    let (status, _, _) = raw.wait().await.unwrap();
    assert!(status.success());
}
