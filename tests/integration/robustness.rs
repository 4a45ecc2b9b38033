//! What keeps the server usable: a pure stdout, prompt exit when the
//! client leaves, timeouts that answer, and the largest allowed response.

use std::time::{Duration, Instant};

use aipermission_testkit::client::{McpSession, RawSession, is_error, text_json};
use aipermission_testkit::{Fault, Step};
use serde_json::{Value, json};

use crate::support::{TOKEN, args, binary, gateway};

#[tokio::test]
async fn stdout_carries_only_json_rpc_lines() {
    let gateway = gateway().await;
    let url = gateway.url();
    let mut raw = RawSession::start(
        binary(),
        &[
            ("AIPERMISSION_API_URL", &url),
            ("AIPERMISSION_API_TOKEN", TOKEN),
        ],
    )
    .unwrap();
    raw.initialize("2025-11-25").await.unwrap();
    raw.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await
        .unwrap();
    raw.call(2, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    raw.call(
        3,
        "call_connector_action",
        args(json!({"target_ref": "nope"})),
    )
    .await
    .unwrap();
    raw.call(4, "no_such_tool", args(json!({}))).await.unwrap();
    raw.send(&json!({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}))
        .await
        .unwrap();
    raw.send_line("this is not json").await.unwrap();
    raw.send(&json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}))
        .await
        .unwrap();
    for id in [1, 2, 3, 4, 5, 6] {
        raw.answer(id).await.unwrap();
    }
    let (status, lines, _stderr) = raw.wait().await.unwrap();
    assert!(status.success());
    assert!(lines.len() >= 6);
    for line in &lines {
        let message: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        assert!(
            message.get("id").is_some() || message.get("method").is_some(),
            "{line}"
        );
    }
}

#[tokio::test]
async fn stdin_eof_ends_the_process_at_once_even_with_a_call_in_flight() {
    let gateway = gateway().await;
    gateway.set_fault(Some(Fault::Script(vec![Step::Hold])));
    let url = gateway.url();
    // A long deadline: only the hang-up can end this call quickly.
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        ("AIPERMISSION_HTTP_TIMEOUT_MS", "120000"),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    raw.initialize("2025-11-25").await.unwrap();
    raw.call(1, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    let waiting_since = Instant::now();
    while gateway.seen().is_empty() {
        assert!(
            waiting_since.elapsed() < Duration::from_secs(20),
            "the call never reached the gateway"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let closed_at = Instant::now();
    let (status, _, stderr) = raw.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    // rmcp alone would wait up to 5 s for the call; the bound is generous.
    assert!(
        closed_at.elapsed() < Duration::from_secs(4),
        "exit took {:?}",
        closed_at.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_gateway_gets_the_timeout_error_and_the_server_keeps_serving() {
    let gateway = gateway().await;
    gateway.set_fault(Some(Fault::Script(vec![Step::Hold])));
    let url = gateway.url();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        ("AIPERMISSION_HTTP_TIMEOUT_MS", "300"),
    ];
    let session = McpSession::start(binary(), &vars).await.unwrap();

    let read = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    assert!(is_error(&read));
    assert_eq!(
        text_json(&read),
        json!({"status": "error", "error": "AIPermission API request timed out after 300ms"})
    );

    let call = session
        .call(
            "call_connector_action",
            json!({"target_ref": "ssh:4:2",
        "action_name": "exec", "input": {"command": "id"}, "idempotency_key": "slow-1"}),
        )
        .await
        .unwrap();
    let unknown = text_json(&call);
    assert_eq!(unknown["status"], "outcome_unknown");
    assert_eq!(unknown["code"], "gateway_transport_outcome_unknown");
    assert_eq!(unknown["idempotency_key"], "slow-1");
    assert!(
        unknown["assistant_hint"]
            .as_str()
            .unwrap()
            .contains("same idempotency key")
    );
    assert!(unknown.get("request_id").is_none());

    gateway.set_fault(None);
    let after = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    assert!(!is_error(&after), "the next call works");
}

#[tokio::test]
async fn the_largest_allowed_response_fits_and_one_byte_more_is_refused() {
    let gateway = gateway().await;
    // An 8 MiB request record whose opaque connector output is made of
    // `[]` elements: the most JSON values per byte, the worst case for the
    // component's memory.
    let limit = 8 * 1024 * 1024;
    let head = concat!(
        r#"{"status":"completed","request_id":1,"target_ref":"ssh:4:2","#,
        r#""connector_kind":"ssh","action_name":"exec","#,
        r#""retry_policy":{"class":"read_only","guidance":"g"},"output":["#
    );
    let elements = (limit - head.len() - 2 + 1) / 3;
    let mut body = String::with_capacity(limit);
    body.push_str(head);
    for i in 0..elements {
        body.push_str(if i == 0 { "[]" } else { ",[]" });
    }
    body.push_str(&" ".repeat(limit - 2 - body.len()));
    body.push_str("]}");
    assert_eq!(body.len(), limit);
    let raw = |body: &str| {
        Some(Fault::Raw {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        })
    };
    let read = || json!({"request_id": 1});

    let session = crate::support::session(&gateway).await;
    gateway.set_fault(raw(&body));
    let largest = session
        .call("get_connector_action_request", read())
        .await
        .unwrap();
    assert!(!is_error(&largest), "the largest response is served");
    let output = text_json(&largest)["output"].as_array().map(Vec::len);
    assert!(output == Some(elements), "the output arrived whole");
    // Pretty text and a structured copy would pass the 16 MiB line limit
    // of rmcp clients: the answer is compact text alone.
    assert!(largest.structured_content.is_none());

    body.insert(1, ' ');
    gateway.set_fault(raw(&body));
    let over = session
        .call("get_connector_action_request", read())
        .await
        .unwrap();
    assert_eq!(
        text_json(&over),
        json!({"status": "error", "error": "Gateway response unavailable or invalid."})
    );

    gateway.set_fault(None);
    let after = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    assert!(!is_error(&after));
    assert_eq!(session.finish().await.unwrap(), "");
}

#[tokio::test]
async fn bad_client_input_gets_errors_or_silence_and_never_stops_the_server() {
    // A port nothing listens on: the one tool call must fail to connect.
    let url = crate::support::closed_port_url().await;
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    // Before initialize: a clear error, and the session can still start.
    raw.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await
        .unwrap();
    assert_eq!(raw.answer(1).await.unwrap()["error"]["code"], -32602);
    raw.initialize("2025-11-25").await.unwrap();

    // Lines that cannot be a message get a JSON-RPC error with a null id,
    // one each, in order; rmcp alone would answer them with silence.
    let too_long = format!("{{\"pad\":\"{}\"}}", "x".repeat(34 * 1024 * 1024));
    let unusable = [
        ("not json at all".to_owned(), -32700),
        ("[".repeat(100_000), -32700),
        ("{\"jsonrpc\": \"2.0\", \"id\": 9,".to_owned(), -32700),
        (too_long, -32600),
    ];
    for (line, code) in unusable {
        raw.send_line(&line).await.unwrap();
        let answer = raw.recv().await.unwrap();
        assert_eq!(answer["id"], Value::Null, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    // Valid JSON that is no message is rmcp's to judge; it must not stop it.
    raw.send_line(&format!("{{\"pad\":\"{}\"}}", "x".repeat(17 * 1024 * 1024)))
        .await
        .unwrap();
    for (id, params) in [(2, json!("wrong")), (3, json!({"name": 7})), (4, json!({}))] {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        raw.send(&request).await.unwrap();
    }
    raw.send(&json!({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}))
        .await
        .unwrap();
    raw.send(&json!({"jsonrpc": "2.0", "id": 99, "method": "ping"}))
        .await
        .unwrap();
    assert_eq!(
        raw.answer(99).await.unwrap()["result"],
        json!({}),
        "the server still answers"
    );
    raw.call(100, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    let call = raw.answer(100).await.unwrap();
    assert_eq!(
        call["result"]["isError"], true,
        "a tool call still runs: {call}"
    );

    let (status, lines, stderr) = raw.wait().await.unwrap();
    assert!(status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    for line in lines {
        let message: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(message["jsonrpc"], "2.0");
        if message["id"] == 5 {
            assert_eq!(message["error"]["code"], -32601);
        }
    }
}

#[tokio::test]
async fn an_action_input_larger_than_rmcps_default_line_reaches_the_gateway() {
    let gateway = gateway().await;
    let session = crate::support::session(&gateway).await;
    // 20 MiB: under the gateway's 24 MiB input cap, over rmcp's 16 MiB
    // default line limit, which would drop the request without an answer.
    let data = "x".repeat(20 * 1024 * 1024);
    // A real gateway never echoes file contents in its record of the
    // call; this one would, past the bridge's 8 MiB response cap.
    let record = concat!(
        r#"{"status":"completed","request_id":1,"target_ref":"ssh:4:2","#,
        r#""connector_kind":"ssh","action_name":"exec","#,
        r#""retry_policy":{"class":"non_idempotent","guidance":"g"},"output":{}}"#
    );
    gateway.set_fault(Some(Fault::Raw {
        status: 200,
        headers: vec![],
        body: record.as_bytes().to_vec(),
    }));
    let call = session
        .call(
            "call_connector_action",
            json!({"target_ref": "ssh:4:2", "action_name": "exec",
                "input": {"command": "cat", "stdin": data}, "idempotency_key": "big-1"}),
        )
        .await
        .unwrap();
    assert!(!is_error(&call), "{:?}", call.content);
    let sent = gateway
        .seen()
        .into_iter()
        .find(|seen| seen.method == "POST")
        .expect("the call reached the gateway");
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body["input"]["stdin"].as_str().map(str::len),
        Some(data.len())
    );
    assert_eq!(session.finish().await.unwrap(), "");
}
