//! Load (not timed): 2,000 tool calls with 64 in flight against the
//! stand-in gateway, half of them meeting gateway faults. Every call is
//! answered exactly once with its own result, memory does not grow with
//! the number of calls, and no file descriptor is left behind. More calls
//! at once than the host has instance slots wait for one and complete.

use std::collections::HashMap;
use std::time::Duration;

use aipermission_testkit::client::RawSession;
use aipermission_testkit::{Fault, Step};
use serde_json::{Value, json};

use crate::support::{TOKEN, args, binary, gateway};

const CALLS: u64 = 2_000;
const IN_FLIGHT: u64 = 64;

/// The call with `id` and the result it must get back: even ids read the
/// help of one of three targets (its title names the target), odd ids
/// read a request whose route the gateway breaks.
fn call(id: u64) -> (&'static str, Value, &'static str) {
    if id.is_multiple_of(2) {
        let (target, name) = [
            ("ssh:4:2", "build-box"),
            ("postgres:7:11", "orders-db"),
            ("redis:8:3", "cache"),
        ][(id / 2 % 3) as usize];
        ("get_connector_help", json!({"target_ref": target}), name)
    } else {
        (
            "get_connector_action_request",
            json!({"request_id": id}),
            "overloaded",
        )
    }
}

/// A number from `/proc/<pid>/status`, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

#[tokio::test]
async fn two_thousand_calls_each_answered_once_without_leaks() {
    let gateway = gateway().await;
    gateway.set_route_fault(
        "/api/mcp/connector-action-requests/",
        Fault::Raw {
            status: 503,
            headers: vec![("retry-after".into(), "7".into())],
            body: br#"{"error":"overloaded","code":"busy"}"#.to_vec(),
        },
    );
    let url = gateway.url();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    let pid = raw.child.id().expect("the server runs");
    raw.initialize("2025-11-25").await.unwrap();
    // One call first, so the start-up state is settled before measuring.
    raw.call(CALLS + 1, "list_connector_targets", args(json!({})))
        .await
        .unwrap();
    raw.answer(CALLS + 1).await.unwrap();
    let fds_before = open_fds(pid);

    let mut answers: HashMap<u64, Value> = HashMap::new();
    let (mut sent, mut rss_at_quarter) = (0, 0);
    while answers.len() < CALLS as usize {
        while sent < CALLS && sent - (answers.len() as u64) < IN_FLIGHT {
            let (tool, arguments, _) = call(sent);
            raw.call(sent, tool, args(arguments)).await.unwrap();
            sent += 1;
        }
        let message = raw.recv().await.unwrap();
        let id = message["id"].as_u64().expect("an answer carries its id");
        assert!(
            answers.insert(id, message).is_none(),
            "call {id} was answered twice"
        );
        if answers.len() == CALLS as usize / 4 {
            rss_at_quarter = status_kb(pid, "VmRSS:");
        }
    }

    for (id, answer) in &answers {
        let (_, _, expected) = call(*id);
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.contains(expected),
            "call {id} got another's result: {text}"
        );
        assert_eq!(answer["result"]["isError"], id % 2 == 1, "call {id}");
    }
    let rss_at_end = status_kb(pid, "VmRSS:");
    let peak = status_kb(pid, "VmHWM:");
    eprintln!(
        "host RSS: {rss_at_quarter} kB after 500 calls, {rss_at_end} kB after 2000, peak {peak} kB"
    );
    assert!(
        rss_at_end < rss_at_quarter + 32 * 1024,
        "memory grew with the number of calls"
    );
    assert!(peak < 512 * 1024, "peak RSS {peak} kB");

    // Gateway connections are kept for reuse, and closed once they have
    // been idle for two seconds.
    let mut fds_after = open_fds(pid);
    for _ in 0..500 {
        if fds_after <= fds_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        fds_after = open_fds(pid);
    }
    assert!(
        fds_after <= fds_before,
        "file descriptors leaked: {fds_before} before, {fds_after} after"
    );
    assert_eq!(
        gateway.seen().len() as u64,
        CALLS + 1,
        "one gateway request per call"
    );
    let (status, _, _) = raw.wait().await.unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn more_calls_at_once_than_instance_slots_wait_for_one_and_all_complete() {
    let gateway = gateway().await;
    // Every answer takes a while, so all the calls overlap. A scripted
    // answer ends its connection, and says so, so none is reused.
    gateway.set_fault(Some(Fault::Script(vec![
        Step::Sleep(Duration::from_millis(150)),
        Step::text(concat!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n",
            "content-length: 2\r\nconnection: close\r\n\r\n[]"
        )),
    ])));
    let url = gateway.url();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    let mut raw = RawSession::start(binary(), &vars).unwrap();
    raw.initialize("2025-11-25").await.unwrap();
    const AT_ONCE: u64 = 150;
    for id in 1..=AT_ONCE {
        raw.call(id, "list_connector_targets", args(json!({})))
            .await
            .unwrap();
    }
    for id in 1..=AT_ONCE {
        let answer = raw.answer(id).await.unwrap();
        assert_eq!(answer["result"]["isError"], false, "call {id}: {answer}");
    }
    assert_eq!(gateway.seen().len() as u64, AT_ONCE);
    let (status, _, stderr) = raw.wait().await.unwrap();
    assert!(status.success(), "{stderr}");
}
