//! How the bridge reports what happened to a gateway request when the
//! transport misbehaves: one deadline for headers and body, the 8 MiB cap,
//! broken and lying responses, lifted gateway errors, and above all which
//! failures leave a mutation's outcome unknown. Gateway hits are counted:
//! zero for requests refused locally, exactly one for every mutation.

use aipermission_testkit::client::{McpSession, is_error, text_json};
use aipermission_testkit::{Fault, StandIn, Step};
use serde_json::{Value, json};

use crate::support::{TOKEN, binary, gateway};

/// A session whose gateway requests time out after `timeout_ms`.
async fn session_with_timeout(gateway: &StandIn, timeout_ms: &str) -> McpSession {
    let url = gateway.url();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        ("AIPERMISSION_HTTP_TIMEOUT_MS", timeout_ms),
    ];
    McpSession::start(binary(), &vars).await.unwrap()
}

fn raw(status: u16, body: &str) -> Option<Fault> {
    Some(Fault::Raw {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    })
}

fn script(steps: Vec<Step>) -> Option<Fault> {
    Some(Fault::Script(steps))
}

fn exec(key: &str) -> Value {
    json!({"target_ref": "ssh:4:2", "action_name": "exec",
        "input": {"command": "uptime"}, "idempotency_key": key})
}

fn generate(key: &str) -> Value {
    json!({"project_ref": "slug:lab", "action_name": "generate_item",
        "input": {"name": "db", "generator_kind": "password"}, "reason": "rotate",
        "idempotency_key": key})
}

/// A valid recorded connector request for `exec` on `ssh:4:2`.
fn recorded(status: &str, id: u64) -> Value {
    json!({"status": status, "request_id": id, "target_ref": "ssh:4:2",
        "connector_kind": "ssh", "action_name": "exec",
        "retry_policy": {"class": "non_idempotent", "guidance": "Do not repeat."}})
}

/// Calls `tool` and returns (is_error, the text's JSON).
async fn call(session: &McpSession, tool: &str, arguments: Value) -> (bool, Value) {
    let result = session.call(tool, arguments).await.unwrap();
    (is_error(&result), text_json(&result))
}

fn assert_lost_mutation(envelope: &Value, key: &str) {
    assert_eq!(envelope["status"], "outcome_unknown", "{envelope}");
    assert_eq!(
        envelope["code"], "gateway_transport_outcome_unknown",
        "{envelope}"
    );
    assert_eq!(envelope["idempotency_key"], key, "{envelope}");
    assert!(envelope.get("request_id").is_none(), "{envelope}");
    let hint = envelope["assistant_hint"].as_str().unwrap();
    assert!(hint.contains("same idempotency key"), "{hint}");
}

#[tokio::test]
async fn refused_connections_are_plain_errors_even_for_mutations() {
    let url = crate::support::closed_port_url().await;
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let session = McpSession::start(binary(), &vars).await.unwrap();
    for (tool, arguments) in [
        ("call_connector_action", exec("refused-1")),
        ("cancel_vault_action_request", json!({"request_id": 12})),
        ("list_connector_targets", json!({})),
    ] {
        let (failed, envelope) = call(&session, tool, arguments).await;
        assert!(failed);
        assert_eq!(
            envelope,
            json!({"status": "error",
                   "error": "AIPermission gateway connection failed before request dispatch."}),
            "{tool}"
        );
    }
}

#[tokio::test]
async fn one_deadline_covers_headers_and_the_whole_body() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "100").await;
    let timed_out = json!({"status": "error",
        "error": "AIPermission API request timed out after 100ms"});
    for steps in [
        vec![Step::sleep_ms(400), Step::head(200, 2), Step::text("[]")],
        vec![Step::head(200, 2), Step::sleep_ms(400), Step::text("[]")],
        vec![Step::head(200, 2), Step::text("["), Step::Hold],
    ] {
        gateway.set_fault(script(steps));
        let (failed, envelope) = call(&session, "list_connector_targets", json!({})).await;
        assert!(failed);
        assert_eq!(envelope, timed_out);
    }
    assert_eq!(gateway.seen().len(), 3, "no retries");
}

#[tokio::test]
async fn a_body_trickled_inside_the_deadline_arrives() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "2000").await;
    let steps = vec![
        Step::head(200, 2),
        Step::sleep_ms(50),
        Step::text("["),
        Step::sleep_ms(50),
        Step::text("]"),
    ];
    gateway.set_fault(script(steps));
    let (failed, body) = call(&session, "list_connector_targets", json!({})).await;
    assert!(!failed);
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn trickling_does_not_reset_the_deadline_and_the_connection_closes() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "300").await;
    let mut steps = vec![Step::sleep_ms(180), Step::head(200, 64), Step::text("[")];
    for _ in 0..20 {
        steps.extend([Step::sleep_ms(40), Step::text(" ")]);
    }
    steps.push(Step::Hold);
    gateway.set_fault(script(steps));
    let (failed, envelope) = call(&session, "list_connector_targets", json!({})).await;
    assert!(failed);
    assert_eq!(
        envelope["error"],
        "AIPermission API request timed out after 300ms"
    );
    assert_eq!(gateway.seen().len(), 1, "no retry");
    let waited = std::time::Instant::now();
    while gateway.closed().is_empty() {
        assert!(
            waited.elapsed().as_secs() < 5,
            "the gateway connection stayed open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    gateway.set_fault(None);
    assert!(
        !call(&session, "list_connector_targets", json!({})).await.0,
        "the next call works"
    );
}

#[tokio::test]
async fn broken_responses_to_mutations_leave_the_outcome_unknown() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "300").await;
    let lying_length = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        content-length: 200\r\n\r\n{}";
    let cases = [
        ("reset", script(vec![Step::Reset])),
        ("timeout", script(vec![Step::Hold])),
        (
            "partial",
            script(vec![Step::head(200, 40), Step::text(r#"{"status":"comp"#)]),
        ),
        ("short", script(vec![Step::text(lying_length)])),
        ("malformed", raw(200, r#"{"status": "completed", oops"#)),
        (
            "html",
            raw(500, "<html><body>SECRET_PAGE internal error</body></html>"),
        ),
        (
            "oversized",
            raw(200, &format!("[{}]", " ".repeat(8 * 1024 * 1024 - 1))),
        ),
    ];
    for (n, (name, fault)) in cases.into_iter().enumerate() {
        gateway.set_fault(fault);
        let key = format!("lost-{name}");
        let (failed, envelope) = call(&session, "call_connector_action", exec(&key)).await;
        assert!(failed, "{name}");
        assert_lost_mutation(&envelope, &key);
        let text = envelope.to_string();
        assert!(
            !text.contains("SECRET_PAGE") && !text.contains("oops"),
            "{name}: body echoed"
        );
        assert_eq!(gateway.seen().len(), n + 1, "{name}: exactly one dispatch");
        let keyed = gateway
            .seen()
            .last()
            .map(|s| String::from_utf8_lossy(&s.body).contains(&key));
        assert_eq!(keyed, Some(true), "{name}");
    }
}

#[tokio::test]
async fn broken_responses_to_reads_are_plain_errors() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    let unavailable =
        json!({"status": "error", "error": "Gateway response unavailable or invalid."});
    let lying_length = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        content-length: 200\r\n\r\n{}";
    for fault in [
        script(vec![Step::text(lying_length)]),
        script(vec![Step::Reset]),
        raw(200, "not json"),
        raw(200, "\"a string\""),
        raw(200, "null"),
        raw(502, "<html>Bad gateway</html>"),
        raw(200, &format!("[{}]", " ".repeat(8 * 1024 * 1024 - 1))),
    ] {
        gateway.set_fault(fault);
        let (failed, envelope) = call(&session, "list_connector_targets", json!({})).await;
        assert!(failed);
        assert_eq!(envelope, unavailable);
    }
}

#[tokio::test]
async fn gateway_error_bodies_are_lifted_exactly() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    let conflict = json!({"error": "lost", "code": "connector_action_persistence_unknown",
        "status": "outcome_unknown", "request_id": 12, "assistant_hint": "Inspect request 12.",
        "retry_after_seconds": 3});
    gateway.set_fault(raw(409, &conflict.to_string()));
    let (failed, envelope) = call(&session, "call_connector_action", exec("k-409")).await;
    assert!(failed);
    assert_eq!(
        envelope,
        json!({"status": "outcome_unknown", "code": "connector_action_persistence_unknown",
               "request_id": 12, "assistant_hint": "Inspect request 12.",
               "retry_after_seconds": 3, "error": "lost"})
    );

    let blocked = json!({"status": "blocked", "request_id": 12, "error": "blocked",
        "assistant_hint": "Ask the operator."});
    gateway.set_fault(raw(409, &blocked.to_string()));
    let (_, envelope) = call(&session, "call_connector_action", exec("k-blocked")).await;
    assert_eq!(envelope["status"], "blocked");
    assert_eq!(envelope["request_id"], 12);
    assert_eq!(envelope["assistant_hint"], "Ask the operator.");
    assert!(envelope.get("code").is_none() && envelope.get("idempotency_key").is_none());

    gateway.set_fault(Some(Fault::Raw {
        status: 429,
        headers: vec![("retry-after".into(), "60".into())],
        body: br#"{"error":"busy","code":"connector_action_backpressure"}"#.to_vec(),
    }));
    let (_, envelope) = call(&session, "call_connector_action", exec("k-429")).await;
    assert_eq!(
        envelope,
        json!({"status": "error", "code": "connector_action_backpressure",
               "retry_after_seconds": 60, "error": "busy"})
    );

    for (status, body, message) in [
        (
            401,
            r#"{"error":"invalid, revoked, or expired API token"}"#,
            "invalid, revoked, or expired API token",
        ),
        (
            404,
            r#"{"error":"connector target not found"}"#,
            "connector target not found",
        ),
        (
            413,
            r#"{"error":"request body is too large","code":"request_body_too_large"}"#,
            "request body is too large",
        ),
        (
            423,
            r#"{"error":"database is locked"}"#,
            "database is locked",
        ),
        (
            503,
            r#"{"code":"x"}"#,
            "AIPermission API request failed with 503",
        ),
    ] {
        gateway.set_fault(raw(status, body));
        let (failed, envelope) = call(&session, "list_connector_targets", json!({})).await;
        assert!(failed);
        assert_eq!(envelope["error"], message, "{status}");
        assert_eq!(envelope["status"], "error");
    }
}

#[tokio::test]
async fn statuses_decide_is_error_for_calls_only() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    for (status, failed) in [
        ("completed", false),
        ("approval_pending", false),
        ("running", false),
        ("failed", true),
        ("blocked", true),
        ("outcome_unknown", true),
        ("stale", true),
    ] {
        gateway.set_fault(raw(200, &recorded(status, 5).to_string()));
        let (is_err, body) = call(&session, "call_connector_action", exec("k")).await;
        assert_eq!(is_err, failed, "{status}");
        assert_eq!(body["status"], status);
        let (is_err, _) = call(
            &session,
            "get_connector_action_request",
            json!({"request_id": 5}),
        )
        .await;
        assert!(!is_err, "reading a {status} request is a successful read");
    }
    let stopped = json!({"status": "stopped",
        "error": "MCP execution is stopped in the local gateway."});
    gateway.set_fault(raw(200, &stopped.to_string()));
    let (is_err, body) = call(&session, "call_connector_action", exec("k")).await;
    assert!(is_err);
    assert_eq!(body, stopped);
    let (_, body) = call(
        &session,
        "get_connector_action_request",
        json!({"request_id": 5}),
    )
    .await;
    assert_eq!(
        body["code"], "gateway_response_contract_invalid",
        "stopped is no request"
    );
}

#[tokio::test]
async fn contract_violations_are_never_echoed() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    let mut leaky = recorded("completed", 5);
    leaky["provider_secret"] = "SECRET_CANARY".into();
    gateway.set_fault(raw(200, &leaky.to_string()));
    let (failed, envelope) = call(&session, "call_connector_action", exec("k-leak")).await;
    assert!(failed);
    assert_eq!(envelope["status"], "outcome_unknown");
    assert_eq!(
        envelope["code"],
        "gateway_response_contract_outcome_unknown"
    );
    assert_eq!(envelope["idempotency_key"], "k-leak");
    assert!(
        envelope["assistant_hint"]
            .as_str()
            .unwrap()
            .contains("same idempotency key")
    );
    assert!(!envelope.to_string().contains("SECRET_CANARY"));

    let other_target = {
        let mut body = recorded("completed", 5);
        body["target_ref"] = "ssh:9:9".into();
        body
    };
    gateway.set_fault(raw(200, &other_target.to_string()));
    let (_, envelope) = call(&session, "call_connector_action", exec("k-other")).await;
    assert_eq!(
        envelope["code"],
        "gateway_response_contract_outcome_unknown"
    );

    gateway.set_fault(raw(200, &recorded("completed", 6).to_string()));
    let (failed, envelope) = call(
        &session,
        "get_connector_action_request",
        json!({"request_id": 5}),
    )
    .await;
    assert!(failed);
    assert_eq!(envelope["code"], "gateway_response_contract_invalid");
    assert!(
        envelope["error"]
            .as_str()
            .unwrap()
            .contains("contract validation")
    );

    // An empty object to a call: no invented request id, no retry.
    let before = gateway.seen().len();
    gateway.set_fault(raw(200, "{}"));
    let (_, envelope) = call(&session, "call_connector_action", exec("k-empty")).await;
    assert_eq!(
        envelope["code"],
        "gateway_response_contract_outcome_unknown"
    );
    assert!(envelope.get("request_id").is_none());
    assert_eq!(gateway.seen().len(), before + 1);

    let mut metadata = gateway_target();
    metadata[0]["metadata"] = json!({"nested": {"privateKey": "SECRET_CANARY"}});
    gateway.set_fault(raw(200, &metadata.to_string()));
    let (failed, envelope) = call(&session, "list_connector_targets", json!({})).await;
    assert!(failed);
    assert_eq!(envelope["code"], "gateway_response_contract_invalid");
    assert!(!envelope.to_string().contains("SECRET_CANARY"));
}

fn gateway_target() -> Value {
    json!([{"target_ref": "ssh:4:2", "project_id": 1, "project_name": "Lab",
        "project_slug": "lab", "target_id": 4, "target_name": "box", "connector_kind": "ssh",
        "profile_id": 2, "profile_label": "deploy", "profile_kind": "private_key",
        "actions": []}])
}

#[tokio::test]
async fn withheld_outputs_and_replays_pass_unchanged() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    let withheld = |replayed: bool| {
        json!({"status": "completed", "request_id": 71, "target_ref": "", "connector_kind": "",
            "action_name": "exec", "retry_policy": {"class": "non_idempotent", "guidance": "g"},
            "assistant_hint": "Output is no longer authorised for delivery.",
            "output_withheld": true, "replayed": replayed})
    };
    for replayed in [false, true] {
        gateway.set_fault(raw(200, &withheld(replayed).to_string()));
        let (failed, body) = call(&session, "call_connector_action", exec("k-withheld")).await;
        assert!(!failed);
        assert_eq!(body, withheld(replayed));
    }
    let bodies: Vec<_> = gateway.seen().iter().map(|s| s.body.clone()).collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the same arguments both times");
    let mut read = withheld(false);
    read.as_object_mut().unwrap().remove("replayed");
    gateway.set_fault(raw(200, &read.to_string()));
    let (failed, body) = call(
        &session,
        "get_connector_action_request",
        json!({"request_id": 71}),
    )
    .await;
    assert!(!failed);
    assert_eq!(body, read);
}

#[tokio::test]
async fn vault_mutations_with_lost_responses() {
    let gateway = gateway().await;
    let session = session_with_timeout(&gateway, "5000").await;
    gateway.set_fault(script(vec![Step::Reset]));
    let (failed, envelope) = call(&session, "call_vault_action", generate("vault-lost")).await;
    assert!(failed);
    assert_lost_mutation(&envelope, "vault-lost");

    let (failed, envelope) = call(
        &session,
        "cancel_vault_action_request",
        json!({"request_id": 12}),
    )
    .await;
    assert!(failed);
    assert_eq!(envelope["status"], "outcome_unknown");
    assert_eq!(envelope["code"], "gateway_transport_outcome_unknown");
    assert_eq!(envelope["request_id"], 12);
    assert!(envelope.get("idempotency_key").is_none());
    let hint = envelope["assistant_hint"].as_str().unwrap();
    assert!(
        hint.contains("Inspect the original request status"),
        "{hint}"
    );
    assert_eq!(gateway.seen().len(), 2);
}

#[tokio::test]
async fn arguments_refused_locally_reach_no_gateway() {
    let gateway = gateway().await;
    let session = crate::support::session(&gateway).await;
    let mut no_key = exec("k");
    no_key.as_object_mut().unwrap().remove("idempotency_key");
    let cases = [
        ("call_connector_action", exec(""), "idempotency_key"),
        ("call_connector_action", no_key, "idempotency_key"),
        (
            "list_vault_items",
            json!({"project_ref": "   "}),
            "project_ref",
        ),
        (
            "call_vault_action",
            json!({"project_ref": "  ", "action_name": "generate_item",
            "input": {}, "reason": "r", "idempotency_key": "k"}),
            "project_ref",
        ),
        (
            "call_vault_action",
            json!({"project_ref": "lab", "action_name": "generate_item",
            "input": {}, "reason": "", "idempotency_key": "k"}),
            "reason",
        ),
        (
            "call_vault_action",
            json!({"project_ref": "lab", "action_name": "reveal_secret",
            "input": {}, "reason": "r", "idempotency_key": "k"}),
            "action_name",
        ),
        (
            "call_vault_action",
            generate(&"k".repeat(129)),
            "128 UTF-8 bytes",
        ),
        (
            "get_vault_action_request",
            json!({"request_id": 0}),
            "request_id",
        ),
        (
            "cancel_vault_action_request",
            json!({"request_id": -3}),
            "request_id",
        ),
    ];
    for (tool, arguments, names) in cases {
        let (failed, envelope) = call(&session, tool, arguments).await;
        assert!(failed, "{tool}");
        assert!(
            envelope["error"].as_str().unwrap().contains(names),
            "{envelope}"
        );
        assert_ne!(envelope["status"], "outcome_unknown");
    }
    assert!(
        gateway.seen().is_empty(),
        "a refused call reached the gateway"
    );
}

#[tokio::test]
async fn calls_reuse_one_gateway_connection_and_survive_its_close() {
    let gateway = gateway().await;
    let session = crate::support::session(&gateway).await;
    for _ in 0..3 {
        let (failed, _) = call(&session, "list_connector_targets", json!({})).await;
        assert!(!failed);
    }
    assert_eq!(
        gateway.accepted(),
        1,
        "one keep-alive connection served all three"
    );

    // The gateway closes idle connections; the next call opens a new one.
    gateway.close_connections();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (failed, _) = call(&session, "call_connector_action", exec("after-close")).await;
    assert!(!failed, "the call after the gateway's close failed");
    assert_eq!(gateway.accepted(), 2);
    assert_eq!(
        gateway.seen().len(),
        4,
        "every request reached the gateway once"
    );
}
