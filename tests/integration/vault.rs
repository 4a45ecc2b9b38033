//! The Project Vault tools end to end on the stand-in gateway.

use aipermission_testkit::Fault;
use aipermission_testkit::client::{is_error, text_json};
use serde_json::{Value, json};

use crate::support::{gateway, session};

fn generate(key: &str) -> Value {
    json!({"project_ref": " slug:lab ", "action_name": "generate_item",
        "input": {"name": "DB_PASSWORD", "generator_kind": "password"},
        "reason": "Rotate the database password.", "idempotency_key": key})
}

#[tokio::test]
async fn list_generate_approve_poll_and_cancel() {
    let gateway = gateway().await;
    let session = session(&gateway).await;

    let all = session.call("list_vault_items", json!({})).await.unwrap();
    assert!(!is_error(&all));
    let listed = text_json(&all);
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["secret_values_returned"], false);
    assert_eq!(all.structured_content.as_ref(), Some(&listed));
    let one = session
        .call("list_vault_items", json!({"project_ref": "id:1"}))
        .await
        .unwrap();
    assert!(!is_error(&one));
    let unknown = session
        .call("list_vault_items", json!({"project_ref": "nope"}))
        .await
        .unwrap();
    assert_eq!(text_json(&unknown)["error"], "project not found");

    let call = session
        .call("call_vault_action", generate("vault-1"))
        .await
        .unwrap();
    let pending = text_json(&call);
    assert!(!is_error(&call), "{pending}");
    assert_eq!(pending["status"], "approval_pending");
    let id = pending["request_id"].as_u64().unwrap();
    assert!(gateway.approve_vault(id));
    let polled = session
        .call("get_vault_action_request", json!({"request_id": id}))
        .await
        .unwrap();
    let done = text_json(&polled);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"]["secret_returned"], false);

    let second = session
        .call("call_vault_action", generate("vault-2"))
        .await
        .unwrap();
    let id = text_json(&second)["request_id"].as_u64().unwrap();
    let canceled = session
        .call("cancel_vault_action_request", json!({"request_id": id}))
        .await
        .unwrap();
    assert!(!is_error(&canceled));
    assert_eq!(text_json(&canceled)["status"], "canceled");
    let again = session
        .call("cancel_vault_action_request", json!({"request_id": id}))
        .await
        .unwrap();
    assert!(is_error(&again));
    assert_eq!(
        text_json(&again)["error"],
        "Vault action request is no longer pending"
    );

    let restart = json!({"project_ref": "lab", "action_name": "restart_session_with_environment",
        "input": {"target_ref": "ssh:4:2", "items": [{"item_id": 1, "source_project_id": 1}]},
        "reason": "Load the database URL.", "idempotency_key": "vault-3"});
    let restarted = session.call("call_vault_action", restart).await.unwrap();
    assert!(!is_error(&restarted));
    assert_eq!(
        text_json(&restarted)["output"]["environment_names"],
        json!(["DATABASE_URL"])
    );

    // The bodies the gateway received, with the project reference trimmed.
    let posted: Vec<Value> = gateway
        .seen()
        .iter()
        .filter(|s| s.path == "/api/mcp/vault-actions/call")
        .map(|s| serde_json::from_slice(&s.body).unwrap())
        .collect();
    assert_eq!(posted[0]["project_ref"], "slug:lab");
    assert_eq!(posted[0]["reason"], "Rotate the database password.");
    let cancel = gateway
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/cancel"))
        .unwrap();
    assert_eq!(cancel.method, "POST");
    assert_eq!(cancel.body, b"{}");
    assert_eq!(session.finish().await.unwrap(), "");
}

/// The gateway answers every request with `body` and status 200.
fn answer(body: &Value) -> Option<Fault> {
    Some(Fault::Raw {
        status: 200,
        headers: vec![],
        body: body.to_string().into_bytes(),
    })
}

#[tokio::test]
async fn a_failed_vault_call_is_an_error_but_reading_it_is_not() {
    let gateway = gateway().await;
    let session = session(&gateway).await;
    let failed = json!({"status": "failed", "request_id": 4, "project_ref": "lab",
        "action_name": "generate_item", "secret_values_returned": false,
        "error": "generator unavailable"});
    gateway.set_fault(answer(&failed));
    let call = session
        .call("call_vault_action", generate("vault-f"))
        .await
        .unwrap();
    assert!(is_error(&call));
    assert_eq!(text_json(&call), failed);
    let read = session
        .call("get_vault_action_request", json!({"request_id": 4}))
        .await
        .unwrap();
    assert!(!is_error(&read));

    let mut leaky = failed.clone();
    leaky["value"] = "SECRET_CANARY".into();
    gateway.set_fault(answer(&leaky));
    let call = session
        .call("call_vault_action", generate("vault-leak"))
        .await
        .unwrap();
    let envelope = text_json(&call);
    assert_eq!(
        envelope["code"],
        "gateway_response_contract_outcome_unknown"
    );
    assert_eq!(envelope["idempotency_key"], "vault-leak");
    assert!(!envelope.to_string().contains("SECRET_CANARY"));

    let canceled_wrong = {
        let mut body = failed;
        body["request_id"] = 4.into();
        body
    };
    gateway.set_fault(answer(&canceled_wrong));
    let cancel = session
        .call("cancel_vault_action_request", json!({"request_id": 4}))
        .await
        .unwrap();
    let envelope = text_json(&cancel);
    assert_eq!(
        envelope["status"], "outcome_unknown",
        "a cancel answer must say canceled"
    );
    assert_eq!(
        envelope["code"],
        "gateway_response_contract_outcome_unknown"
    );
    assert_eq!(envelope["request_id"], 4);
}
