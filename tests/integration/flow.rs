//! The main job end to end on the stand-in gateway: discovery, help,
//! actions, a call that waits for the operator, approval and polling.

use aipermission_testkit::client::{McpSession, RawSession, is_error, text_json};
use serde_json::{Value, json};

use crate::support::{TOKEN, args, binary, gateway, session};

#[tokio::test]
async fn discovery_call_approval_and_poll() {
    let gateway = gateway().await;
    let session = session(&gateway).await;

    let targets = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    assert!(!is_error(&targets));
    let listed = text_json(&targets);
    let refs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target_ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["ssh:4:2", "postgres:7:11", "redis:8:3"]);
    assert_eq!(
        targets.structured_content,
        Some(json!({ "targets": listed }))
    );

    let help = session
        .call("get_connector_help", json!({"target_ref": " ssh:4:2 "}))
        .await
        .unwrap();
    assert!(!is_error(&help));
    assert_eq!(text_json(&help)["connector_id"], "ssh");
    let actions = session
        .call("get_connector_actions", json!({"target_ref": "ssh:4:2"}))
        .await
        .unwrap();
    assert_eq!(text_json(&actions)["items"][0]["name"], "exec");

    let call = session
        .call(
            "call_connector_action",
            json!({
                "target_ref": "ssh:4:2", "action_name": "exec",
                "input": {"command": "uptime"}, "reason": "Check the load.",
                "idempotency_key": "flow-1"
            }),
        )
        .await
        .unwrap();
    let pending = text_json(&call);
    assert!(
        !is_error(&call),
        "approval_pending is not an error: {pending}"
    );
    assert_eq!(pending["status"], "approval_pending");
    assert_eq!(pending["retry_after_seconds"], 3);
    assert_eq!(call.structured_content.as_ref(), Some(&pending));
    let id = pending["request_id"].as_u64().unwrap();

    assert!(gateway.approve(id));
    let polled = session
        .call("get_connector_action_request", json!({"request_id": id}))
        .await
        .unwrap();
    let done = text_json(&polled);
    assert!(!is_error(&polled));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"]["stdout"], "fake output of `uptime`\n");
    // The text is the gateway's JSON, pretty-printed.
    let text = polled.content[0].as_text().unwrap().text.clone();
    assert!(text.starts_with("{\n  \"status\": \"completed\""), "{text}");

    // What the gateway received: the right routes, bodies and token.
    let seen = gateway.seen();
    let routes: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    assert_eq!(
        routes,
        [
            ("GET".to_owned(), "/api/mcp/connector-targets".to_owned()),
            (
                "GET".to_owned(),
                "/api/mcp/connector-help?target_ref=ssh%3A4%3A2".to_owned()
            ),
            (
                "GET".to_owned(),
                "/api/mcp/connector-actions?target_ref=ssh%3A4%3A2".to_owned()
            ),
            (
                "POST".to_owned(),
                "/api/mcp/connector-actions/call".to_owned()
            ),
            (
                "GET".to_owned(),
                format!("/api/mcp/connector-action-requests/{id}")
            ),
        ]
    );
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.headers.get_all("authorization").iter().count(), 1);
    }
    let post = &seen[3];
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&post.body),
        concat!(
            r#"{"target_ref":"ssh:4:2","action_name":"exec","input":{"command":"uptime"},"#,
            r#""reason":"Check the load.","idempotency_key":"flow-1"}"#
        )
    );
    assert!(seen[0].body.is_empty() && seen[0].header("content-type").is_none());

    assert_eq!(session.finish().await.unwrap(), "");
}

#[tokio::test]
async fn always_run_completes_at_once_and_a_replay_returns_the_same_request() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let arguments = json!({
        "target_ref": "postgres:7:11", "action_name": "query_readonly",
        "input": {"sql": "select id, name from users"}, "idempotency_key": "pg-1"
    });

    let first = session
        .call("call_connector_action", arguments.clone())
        .await
        .unwrap();
    let first = text_json(&first);
    assert_eq!(first["status"], "completed");
    assert_eq!(first["output"]["row_count"], 2);
    assert!(first.get("replayed").is_none());

    let again = session
        .call("call_connector_action", arguments)
        .await
        .unwrap();
    let again = text_json(&again);
    assert_eq!(again["request_id"], first["request_id"]);
    assert_eq!(again["replayed"], true);
    // The bridge never deduplicates: both calls reached the gateway.
    assert_eq!(gateway.seen().len(), 2);
}

#[tokio::test]
async fn statuses_other_than_success_mark_calls_as_errors_but_not_reads() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let arguments = json!({"target_ref": "redis:8:3", "action_name": "set_string",
        "input": {"key": "a", "value": "b"}, "idempotency_key": "redis-1"});
    let call = session
        .call("call_connector_action", arguments.clone())
        .await
        .unwrap();
    let id = text_json(&call)["request_id"].as_u64().unwrap();
    assert!(gateway.decline(id, Some("not now")));

    let read = session
        .call("get_connector_action_request", json!({"request_id": id}))
        .await
        .unwrap();
    assert!(
        !is_error(&read),
        "reading a declined request is a successful read"
    );
    assert_eq!(
        text_json(&read)["error"],
        "User declined the connector action: not now"
    );

    let replay = session
        .call("call_connector_action", arguments)
        .await
        .unwrap();
    assert!(is_error(&replay), "a declined call is a tool error");
    assert_eq!(text_json(&replay)["status"], "declined");
}

#[tokio::test]
async fn gateway_errors_become_envelopes() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let unknown = session
        .call("get_connector_help", json!({"target_ref": "ssh:99:1"}))
        .await
        .unwrap();
    assert!(is_error(&unknown));
    assert_eq!(
        text_json(&unknown),
        json!({"status": "error", "error": "connector target not found"})
    );
    assert_eq!(unknown.structured_content, Some(text_json(&unknown)));

    let missing = session
        .call("get_connector_action_request", json!({"request_id": 404}))
        .await
        .unwrap();
    assert_eq!(
        text_json(&missing)["error"],
        "connector action request not found"
    );
}

#[tokio::test]
async fn invalid_arguments_are_tool_errors_and_send_nothing() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let base = json!({"target_ref": "ssh:4:2", "action_name": "exec", "idempotency_key": "k"});
    let with = |key: &str, value: Value| {
        let mut arguments = base.clone();
        arguments[key] = value;
        arguments
    };
    let mut without_key = base.clone();
    without_key
        .as_object_mut()
        .unwrap()
        .remove("idempotency_key");
    let cases = [
        ("call_connector_action", without_key, "idempotency_key"),
        (
            "call_connector_action",
            with("idempotency_key", json!("ş".repeat(65))),
            "128 UTF-8 bytes",
        ),
        (
            "call_connector_action",
            with("idempotency_key", json!("")),
            "idempotency_key",
        ),
        (
            "call_connector_action",
            with("target_ref", json!("   ")),
            "target_ref",
        ),
        (
            "call_connector_action",
            with("action_name", json!("\t\n")),
            "action_name",
        ),
        (
            "call_connector_action",
            with("input", json!("uptime")),
            "input",
        ),
        ("get_connector_help", json!({}), "target_ref"),
        (
            "get_connector_action_request",
            json!({"request_id": 0}),
            "request_id",
        ),
        (
            "get_connector_action_request",
            json!({"request_id": "7"}),
            "request_id",
        ),
    ];
    for (tool, arguments, names) in cases {
        let result = session.call(tool, arguments.clone()).await.unwrap();
        assert!(is_error(&result), "{tool} {arguments}");
        let envelope = text_json(&result);
        assert_eq!(envelope["status"], "error");
        assert!(
            envelope["error"].as_str().unwrap().contains(names),
            "{envelope}"
        );
        assert!(envelope.get("idempotency_key").is_none());
    }
    // Unknown keys are dropped, not refused.
    let extra = session
        .call(
            "get_connector_action_request",
            json!({"request_id": 1, "verbose": true}),
        )
        .await
        .unwrap();
    assert_eq!(
        text_json(&extra)["error"],
        "connector action request not found"
    );
    assert_eq!(
        gateway.seen().len(),
        1,
        "only the valid call reached the gateway"
    );
}

#[tokio::test]
async fn a_missing_or_unusable_token_sends_nothing_and_is_never_echoed() {
    let gateway = gateway().await;
    let url = gateway.url();
    let bad = format!("{TOKEN}\nX-Injected: 1");
    let cases = [
        (
            vec![("AIPERMISSION_API_URL", url.as_str())],
            "AIPERMISSION_API_TOKEN is required.",
        ),
        (
            vec![
                ("AIPERMISSION_API_URL", url.as_str()),
                ("AIPERMISSION_API_TOKEN", ""),
            ],
            "AIPERMISSION_API_TOKEN is required.",
        ),
        (
            vec![
                ("AIPERMISSION_API_URL", url.as_str()),
                ("AIPERMISSION_API_TOKEN", bad.as_str()),
            ],
            "Invalid local gateway request configuration; check the API URL and token.",
        ),
    ];
    for (vars, message) in cases {
        let session = McpSession::start(binary(), &vars).await.unwrap();
        for (tool, arguments) in [
            ("list_connector_targets", json!({})),
            (
                "call_connector_action",
                json!({"target_ref": "ssh:4:2", "action_name": "exec", "idempotency_key": "k"}),
            ),
        ] {
            let result = session.call(tool, arguments).await.unwrap();
            assert!(is_error(&result));
            let envelope = text_json(&result);
            assert_eq!(envelope, json!({"status": "error", "error": message}));
        }
        let stderr = session.finish().await.unwrap();
        assert!(!stderr.contains(TOKEN));
    }
    assert!(gateway.seen().is_empty());
}

#[tokio::test]
async fn the_token_appears_only_in_the_gateway_authorization_header() {
    let gateway = gateway().await;
    let url = gateway.url();
    // Every log line on, to show that none of them carries the token.
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        (
            "AIPERMISSION_MCP_LOG",
            "trace,cranelift_codegen=info,wasmtime_internal_cranelift=info",
        ),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    raw.initialize("2025-11-25").await.unwrap();
    raw.call(1, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    raw.call(
        2,
        "call_connector_action",
        args(json!({"target_ref": "redis:8:3",
        "action_name": "get_key", "input": {"key": "x"}, "idempotency_key": "t-1"})),
    )
    .await
    .unwrap();
    raw.answer(1).await.unwrap();
    raw.answer(2).await.unwrap();
    let (status, stdout, stderr) = raw.wait().await.unwrap();
    assert!(status.success());
    assert!(!stderr.is_empty(), "trace logging is on");
    assert!(!stderr.contains(TOKEN), "the token reached the log");
    assert!(
        stdout.iter().all(|line| !line.contains(TOKEN)),
        "the token reached stdout"
    );
    let seen = gateway.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(&format!("Bearer {TOKEN}")))
    );
}

#[tokio::test]
async fn identities_are_trimmed_and_inputs_forwarded_unchanged() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let call = session
        .call(
            "call_connector_action",
            json!({"target_ref": " redis:8:3 ", "action_name": "\tset_string\n",
                "input": {"key": " spaced key ", "value": "  two  "},
                "idempotency_key": "trim-1"}),
        )
        .await
        .unwrap();
    assert!(!is_error(&call), "{}", text_json(&call));
    let body: Value = serde_json::from_slice(&gateway.seen()[0].body).unwrap();
    assert_eq!(body["target_ref"], "redis:8:3");
    assert_eq!(body["action_name"], "set_string");
    assert_eq!(
        body["input"],
        json!({"key": " spaced key ", "value": "  two  "})
    );
    assert_eq!(body["reason"], "");
}
