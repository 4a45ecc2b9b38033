//! A hostile component run by the host's own runtime, with the production
//! linker and egress policy: every way out it tries is contained, each
//! exhausted budget becomes an error result that says which, and the next
//! call works. Refusals are shown by decoy listeners that accept nothing,
//! not only by the error text. Every address used is on loopback.

use std::ffi::OsString;
use std::net::SocketAddr;

use aipermission_mcp::runtime::{CallResult, Runtime};
use aipermission_mcp::serve::split;
use aipermission_mcp::settings::Settings;
use aipermission_testkit::{Decoy, Fault, StandIn, Step};
use serde_json::{Value, json};

use crate::support::{TOKEN, gateway};

/// The hostile component built beside the real one by `host/build.rs`.
fn hostile() -> Vec<u8> {
    std::fs::read(env!("AIPERMISSION_HOSTILE_COMPONENT")).expect("the hostile component was built")
}

/// The runtime configured as `serve` would be, for `url` and `timeout_ms`.
async fn runtime(url: &str, timeout_ms: &str) -> Runtime {
    let vars = [
        ("AIPERMISSION_API_URL", url),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        ("AIPERMISSION_HTTP_TIMEOUT_MS", timeout_ms),
    ];
    let settings = Settings::from_vars(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| OsString::from(v))
    })
    .unwrap();
    let (policy, context) = split(settings);
    Runtime::with_component(&hostile(), None, policy, context)
        .await
        .unwrap()
}

async fn attempt(runtime: &Runtime, tool: &str, arguments: Value) -> CallResult {
    runtime.call(tool, &arguments.to_string()).await
}

fn assert_refused(result: &CallResult, what: &str) {
    assert!(!result.is_error, "{what}: {}", result.text);
    assert!(
        result.text.starts_with("refused"),
        "{what}: {}",
        result.text
    );
}

#[tokio::test]
async fn no_files_no_environment_no_sockets() {
    let decoy = Decoy::bind("127.0.0.1").await.unwrap();
    let runtime = runtime("http://127.0.0.1:9", "2000").await;
    let address = decoy.addr().to_string();
    for (tool, arguments) in [
        ("read_file", json!({})),
        ("write_file", json!({})),
        ("list_preopens", json!({})),
        ("read_environment", json!({})),
        ("tcp_connect", json!({"address": address})),
        ("udp_bind", json!({})),
        ("resolve_name", json!({})),
    ] {
        assert_refused(&attempt(&runtime, tool, arguments).await, tool);
    }
    assert_eq!(decoy.accepted(), 0);
    assert!(!std::path::Path::new("/tmp/aipermission-hostile").exists());
}

#[tokio::test]
async fn http_anywhere_but_the_gateway_is_denied_before_connecting() {
    let gateway = gateway().await;
    let port = gateway.addr().port();
    let other_port = Decoy::bind("127.0.0.1").await.unwrap();
    let other_host = Decoy::bind_addr(SocketAddr::from(([127, 0, 0, 2], port))).await;
    let runtime = runtime(&gateway.url(), "2000").await;
    let q = other_port.port();
    let cases = [
        json!({"authority": format!("127.0.0.1:{q}")}),
        json!({"authority": format!("0.0.0.0:{port}")}),
        json!({"authority": format!("[::]:{port}")}),
        json!({"authority": format!("[::ffff:127.0.0.1]:{port}")}),
        json!({"authority": format!("127.0.0.2:{port}")}),
        json!({"authority": format!("localhost:{port}")}),
        json!({"authority": format!("gateway.invalid:{port}")}),
        json!({"authority": format!("user@127.0.0.1:{port}")}),
        json!({"authority": format!("127.0.0.1:{port}"), "scheme": "https"}),
    ];
    for arguments in cases {
        let result = attempt(&runtime, "http", arguments.clone()).await;
        assert_refused(&result, &arguments.to_string());
    }
    assert_eq!(
        other_port.accepted(),
        0,
        "another loopback port was reached"
    );
    if let Ok(decoy) = other_host {
        assert_eq!(decoy.accepted(), 0, "127.0.0.2 was reached");
    }
    assert!(
        gateway.seen().is_empty(),
        "a denied request reached the gateway"
    );
}

#[tokio::test]
async fn forged_credentials_never_reach_the_gateway() {
    let gateway = gateway().await;
    let runtime = runtime(&gateway.url(), "2000").await;
    let authority = gateway.addr().to_string();
    let forged = json!({"authority": authority, "path": "/api/mcp/connector-targets",
        "headers": {"authorization": "Bearer forged", "x-api-key": "forged",
                    "origin": "http://evil.invalid"}});
    let result = attempt(&runtime, "http", forged).await;
    assert_eq!(
        result.text, "BREACH: status 200",
        "the allowed origin answers"
    );
    let seen = gateway.seen();
    assert_eq!(seen.len(), 1);
    let authorization: Vec<_> = seen[0].headers.get_all("authorization").iter().collect();
    assert_eq!(authorization, [format!("Bearer {TOKEN}").as_str()]);
    assert!(seen[0].header("x-api-key").is_none() && seen[0].header("origin").is_none());

    let host = json!({"authority": authority, "headers": {"host": "evil.invalid"}});
    assert_refused(
        &attempt(&runtime, "http", host).await,
        "a forged Host header",
    );
    assert_eq!(gateway.seen().len(), 1);
}

#[tokio::test]
async fn redirects_lead_nowhere() {
    let gateway = gateway().await;
    let elsewhere = Decoy::bind("127.0.0.1").await.unwrap();
    gateway.set_fault(Some(Fault::Redirect(format!(
        "http://127.0.0.1:{}/x",
        elsewhere.port()
    ))));
    let runtime = runtime(&gateway.url(), "2000").await;
    let arguments = json!({"authority": gateway.addr().to_string()});
    let result = attempt(&runtime, "http_follow_redirect", arguments).await;
    assert_refused(&result, "following a redirect");
    assert_eq!(elsewhere.accepted(), 0);
}

#[tokio::test]
async fn exhausted_budgets_are_named_and_the_next_call_works() {
    let runtime = runtime("http://127.0.0.1:9", "200").await;
    for (tool, names) in [
        ("spin", "deadline"),
        ("grow_memory", "memory"),
        ("flood_stdout", "sandbox trapped"),
    ] {
        let result = attempt(&runtime, tool, json!({})).await;
        assert!(result.is_error, "{tool}");
        let envelope: Value = serde_json::from_str(&result.text).unwrap();
        assert_eq!(envelope["code"], "bridge_call_interrupted", "{tool}");
        assert!(
            envelope["error"].as_str().unwrap().contains(names),
            "{tool}: {envelope}"
        );
        assert_refused(
            &attempt(&runtime, "read_environment", json!({})).await,
            "after {tool}",
        );
    }
}

#[tokio::test]
async fn a_mutation_stopped_after_dispatch_is_outcome_unknown() {
    let gateway: StandIn = gateway().await;
    gateway.set_fault(Some(Fault::Script(vec![Step::Hold])));
    let runtime = runtime(&gateway.url(), "200").await;
    let arguments = json!({"authority": gateway.addr().to_string(),
        "path": "/api/mcp/connector-actions/call",
        "target_ref": "ssh:4:2", "action_name": "exec", "idempotency_key": "hostile-1"});
    let result = attempt(&runtime, "call_connector_action", arguments).await;
    assert!(result.is_error);
    let envelope: Value = serde_json::from_str(&result.text).unwrap();
    assert_eq!(envelope["status"], "outcome_unknown", "{envelope}");
    assert_eq!(envelope["idempotency_key"], "hostile-1");
    assert_eq!(gateway.seen().len(), 1, "the request went out once");
}
