//! The contract cases of the reference suite: what passes, what fails.

use serde_json::{Value, json};

use super::connector::names_a_secret;
use super::{Contract, check};

fn recorded(status: &str) -> Value {
    json!({
        "status": status, "request_id": 7, "target_ref": "redis:1:1",
        "connector_kind": "redis", "action_name": "get_string",
        "retry_policy": {"class": "read_only", "guidance": "Safe to read again."}
    })
}

fn call() -> Contract {
    Contract::ActionCall {
        target_ref: "redis:1:1".into(),
        action_name: "get_string".into(),
    }
}

fn read(id: u64) -> Contract {
    Contract::ActionRead { request_id: id }
}

fn target(metadata: Value) -> Value {
    json!([{
        "target_ref": "ssh:1:1", "project_id": 1, "project_name": "P", "project_slug": "p",
        "target_id": 1, "target_name": "t", "connector_kind": "ssh", "profile_id": 1,
        "profile_label": "l", "profile_kind": "private_key", "metadata": metadata,
        "actions": [{"name": "exec", "execution_rule": "always_run"}], "hints": ["h"]
    }])
}

/// Checks that `value` breaks `contract` at `path`, not somewhere else.
fn fails_at(contract: &Contract, value: &Value, path: &str) {
    let violation = check(contract, value).expect_err("the answer should break its contract");
    assert_eq!(violation.path, path, "{violation}");
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().unwrap().remove(key);
    value
}

#[test]
fn connector_output_is_opaque_but_the_envelope_is_strict() {
    let output = json!({"password": "redacted-by-gateway", "nested": [{"token": 1}]});
    assert!(check(&call(), &with(recorded("completed"), "output", output)).is_ok());
    let leaky = with(recorded("completed"), "provider_secret", json!("x"));
    let violation = check(&call(), &leaky).unwrap_err();
    assert_eq!(violation.path, "$.provider_secret");
    let nested = with(
        recorded("completed"),
        "retry_policy",
        json!({"class": "read_only",
        "guidance": "g", "extra": true}),
    );
    assert!(check(&call(), &nested).is_err());
}

#[test]
fn target_metadata_never_names_a_secret() {
    assert!(
        check(
            &Contract::Targets,
            &target(json!({"host": "h", "port": 22}))
        )
        .is_ok()
    );
    for metadata in [
        json!({"private_key": "x"}),
        json!({"nested": {"privateKey": "x"}}),
        json!({"list": [{"api-token": "x"}]}),
        json!({"accessKey": "x"}),
        json!({" Client_Secret ": "x"}),
    ] {
        let violation = check(&Contract::Targets, &target(metadata.clone())).unwrap_err();
        assert!(
            violation.path.starts_with("$[0].metadata"),
            "{metadata}: {violation}"
        );
        assert_eq!(violation.rule, "holds a key that names a secret");
    }
    for safe in [
        "host",
        "port",
        "username",
        "tokens",
        "keyboard",
        "secretary_name",
    ] {
        assert!(!names_a_secret(safe), "{safe}");
    }
    for secret in [
        "password",
        "dbPassword",
        "SSH_PRIVATE_KEY",
        "x-api-key",
        "credential_id",
    ] {
        assert!(names_a_secret(secret), "{secret}");
    }
    assert!(check(&Contract::Targets, &json!([])).is_ok());
    assert!(check(&Contract::Targets, &json!({"targets": []})).is_err());
}

#[test]
fn connector_lifecycle_rules() {
    fails_at(&call(), &recorded("invented"), "$.status");
    fails_at(
        &call(),
        &without(recorded("running"), "request_id"),
        "$.request_id",
    );
    let class = with(
        recorded("completed"),
        "retry_policy",
        json!({"class": "sometimes",
        "guidance": "g"}),
    );
    fails_at(&call(), &class, "$.retry_policy.class");
    fails_at(
        &call(),
        &without(recorded("completed"), "retry_policy"),
        "$.retry_policy",
    );

    let stopped = json!({"status": "stopped", "error": "MCP execution is stopped."});
    assert!(check(&call(), &stopped).is_ok());
    fails_at(&read(7), &stopped, "$.status");
    fails_at(
        &call(),
        &json!({"status": "stopped", "error": ""}),
        "$.error",
    );

    let withheld = json!({
        "status": "completed", "request_id": 71, "target_ref": "", "connector_kind": "",
        "action_name": "get_string", "output_withheld": true, "assistant_hint": "withheld",
        "retry_policy": {"class": "non_idempotent", "guidance": "g"}, "replayed": true
    });
    assert!(check(&call(), &withheld).is_ok());
    assert!(check(&read(71), &withheld).is_ok());
    fails_at(
        &call(),
        &with(withheld.clone(), "output", json!({})),
        "$.output",
    );
    fails_at(
        &call(),
        &with(withheld, "action_name", json!("other")),
        "$.action_name",
    );
    fails_at(
        &call(),
        &with(recorded("completed"), "target_ref", json!("")),
        "$.target_ref",
    );
}

#[test]
fn identities_are_bound_to_the_request() {
    assert!(check(&call(), &recorded("completed")).is_ok());
    let other = with(recorded("completed"), "target_ref", json!("redis:2:1"));
    fails_at(&call(), &other, "$.target_ref");
    let other = with(recorded("completed"), "action_name", json!("set_string"));
    fails_at(&call(), &other, "$.action_name");
    assert!(check(&read(7), &recorded("failed")).is_ok());
    fails_at(&read(8), &recorded("failed"), "$.request_id");
}

fn definition(max_input_bytes: Value) -> Value {
    json!({"items": [{
        "name": "exec", "label": "Run", "description": "d", "category": "command",
        "risk": "write",
        "input_schema": {"fields": [{"name": "command", "label": "Command",
            "type": "select", "required": true, "options": [{"value": "a", "label": "A"}]}]},
        "output_hint": {"format": "terminal", "max_bytes": 100000},
        "retry_policy": {"class": "non_idempotent", "guidance": "g"},
        "max_input_bytes": max_input_bytes
    }]})
}

#[test]
fn action_catalogs_bound_max_input_bytes() {
    for ok in [json!(1), json!(1024), json!(25_165_824), json!(1024.0)] {
        assert!(
            check(&Contract::Actions, &definition(ok.clone())).is_ok(),
            "{ok}"
        );
    }
    for bad in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("1024"),
        json!(null),
        json!(25_165_825),
    ] {
        fails_at(
            &Contract::Actions,
            &definition(bad),
            "$.items[0].max_input_bytes",
        );
    }
    let mut missing = definition(json!(1));
    missing["items"][0]
        .as_object_mut()
        .unwrap()
        .remove("max_input_bytes");
    assert!(check(&Contract::Actions, &missing).is_err());
}

#[test]
fn help_is_strict() {
    let help = json!({"title": "SSH", "summary": "s", "usage": ["u"], "warnings": [],
        "connector": "SSH", "connector_id": "ssh"});
    assert!(check(&Contract::Help, &help).is_ok());
    fails_at(
        &Contract::Help,
        &with(help.clone(), "secret", json!(1)),
        "$.secret",
    );
    fails_at(&Contract::Help, &with(help, "usage", json!([1])), "$.usage");
}

fn vault(action: &str) -> Value {
    json!({
        "status": "completed", "request_id": 9, "project_ref": "my-project",
        "action_name": action, "secret_values_returned": false
    })
}

fn generated() -> Value {
    json!({"item": {"vault_ref": "vault:1", "item_id": 1, "project_id": 1, "name": "db",
        "secret_type": "generic_secret", "status": "active", "expires_at": "",
        "value_version": 1, "metadata_revision": 1}, "secret_returned": false})
}

fn vault_call(action: &str) -> Contract {
    Contract::VaultCall {
        action_name: action.into(),
    }
}

#[test]
fn vault_answers_never_carry_values() {
    let generate = with(vault("generate_item"), "output", generated());
    assert!(check(&vault_call("generate_item"), &generate).is_ok());
    let mut raw = generate.clone();
    raw["output"]["item"]["value"] = json!("hunter2");
    fails_at(&vault_call("generate_item"), &raw, "$.output.item.value");
    raw = generate.clone();
    raw["output"]["value"] = json!("hunter2");
    fails_at(&vault_call("generate_item"), &raw, "$.output.value");
    let returned = with(
        vault("generate_item"),
        "secret_values_returned",
        json!(true),
    );
    fails_at(
        &vault_call("generate_item"),
        &returned,
        "$.secret_values_returned",
    );
}

#[test]
fn vault_lifecycle_rules() {
    let contract = vault_call("generate_item");
    let stopped = json!({"status": "stopped", "error": "stopped"});
    assert!(check(&contract, &stopped).is_ok());
    fails_at(&Contract::VaultRead { request_id: 9 }, &stopped, "$.status");
    let invented = with(vault("generate_item"), "status", json!("invented"));
    fails_at(&contract, &invented, "$.status");
    for key in [
        "request_id",
        "project_ref",
        "action_name",
        "secret_values_returned",
    ] {
        fails_at(
            &contract,
            &without(vault("generate_item"), key),
            &format!("$.{key}"),
        );
    }
    let withheld = with(vault("generate_item"), "output_withheld", json!(true));
    assert!(check(&contract, &withheld).is_ok());
    fails_at(
        &contract,
        &with(withheld, "output", generated()),
        "$.output",
    );
    let not_true = with(vault("generate_item"), "output_withheld", json!(false));
    fails_at(&contract, &not_true, "$.output_withheld");
}

#[test]
fn vault_identities_and_shapes_are_bound() {
    assert!(
        check(
            &Contract::VaultRead { request_id: 9 },
            &vault("generate_item")
        )
        .is_ok()
    );
    fails_at(
        &Contract::VaultRead { request_id: 10 },
        &vault("generate_item"),
        "$.request_id",
    );
    let canceled = with(vault("generate_item"), "status", json!("canceled"));
    assert!(check(&Contract::VaultCancel { request_id: 9 }, &canceled).is_ok());
    fails_at(
        &Contract::VaultCancel { request_id: 9 },
        &vault("generate_item"),
        "$.status",
    );
    let restart_call = vault_call("restart_session_with_environment");
    fails_at(&restart_call, &vault("generate_item"), "$.action_name");

    let session_input = json!({"target_ref": "ssh:1:1", "items": [{"item_id": 1,
        "source_project_id": 2, "replace_existing": true}]});
    let restart = with(
        vault("restart_session_with_environment"),
        "input",
        session_input.clone(),
    );
    assert!(check(&vault_call("restart_session_with_environment"), &restart).is_ok());
    let crossed = with(vault("generate_item"), "input", session_input);
    fails_at(&vault_call("generate_item"), &crossed, "$.input.target_ref");
    let crossed = with(
        vault("restart_session_with_environment"),
        "output",
        generated(),
    );
    fails_at(&restart_call, &crossed, "$.output.item");
    let session = json!({"session_id": 4, "session_generation": "g2", "runtime_id": 3,
        "status": "running", "environment_names": ["DB_URL"], "expires_at": "2030-01-01"});
    let restarted = with(vault("restart_session_with_environment"), "output", session);
    assert!(check(&vault_call("restart_session_with_environment"), &restarted).is_ok());
}

#[test]
fn vault_item_lists() {
    let list = json!({"items": [{"vault_ref": "vault:1", "item_id": 1, "project_ref": "p",
        "source_project_id": 1, "name": "db", "secret_type": "password", "status": "active",
        "value_version": 2, "metadata_revision": 3}], "count": 1, "truncated": false,
        "secret_values_returned": false});
    assert!(check(&Contract::VaultItems, &list).is_ok());
    let mut leaky = list.clone();
    leaky["items"][0]["value"] = json!("hunter2");
    fails_at(&Contract::VaultItems, &leaky, "$.items[0].value");
    assert!(
        check(
            &Contract::VaultItems,
            &with(list, "secret_values_returned", json!(true))
        )
        .is_err()
    );
}
