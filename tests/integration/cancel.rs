//! MCP cancellation: a cancelled call is dropped, its gateway connection
//! closes promptly, no answer is sent, and the next call works.

use std::time::{Duration, Instant};

use aipermission_testkit::client::RawSession;
use aipermission_testkit::{Fault, Step};
use serde_json::json;

use crate::support::{TOKEN, args, binary, gateway};

#[tokio::test]
async fn a_cancelled_call_closes_its_gateway_connection_and_sends_nothing() {
    let gateway = gateway().await;
    gateway.set_fault(Some(Fault::Script(vec![Step::Hold])));
    let url = gateway.url();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    raw.initialize("2025-11-25").await.unwrap();

    let calls = [
        ("list_connector_targets", json!({})),
        (
            "call_connector_action",
            json!({"target_ref": "ssh:4:2", "action_name": "exec",
            "input": {"command": "sleep 100"}, "idempotency_key": "cancel-1"}),
        ),
    ];
    for (n, (tool, arguments)) in calls.into_iter().enumerate() {
        let id = n as u64 + 1;
        raw.call(id, tool, args(arguments)).await.unwrap();
        let sent = Instant::now();
        while gateway.seen().len() <= n {
            assert!(
                sent.elapsed() < Duration::from_secs(20),
                "{tool} never reached the gateway"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": "the user gave up"}});
        raw.send(&cancel).await.unwrap();
        let cancelled = Instant::now();
        while gateway.closed().len() <= n {
            // The reference bridge closes within 500 ms; a loaded CI
            // machine gets a generous bound.
            assert!(
                cancelled.elapsed() < Duration::from_secs(5),
                "{tool}: connection stayed open"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    gateway.set_fault(None);
    raw.call(3, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    let answer = raw.answer(3).await.unwrap();
    assert_eq!(
        answer["result"]["isError"], false,
        "the next call works: {answer}"
    );
    let (status, lines, _) = raw.wait().await.unwrap();
    assert!(status.success());
    for line in lines {
        let message: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(
            message["id"] != 1 && message["id"] != 2,
            "a cancelled call was answered: {line}"
        );
    }
}
