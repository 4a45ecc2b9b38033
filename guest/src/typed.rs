//! The `typed-tools` export: each tool as a function with named
//! parameters and a typed result. A function builds the arguments object
//! the generic `call-tool` would get, runs the same call with settings
//! from the granted environment, and turns the answer into records: the
//! error envelope as a record, or the gateway body, which met its
//! contract before it gets here, field by field.

use aipermission_core::catalog::ToolName;
use aipermission_core::contracts;
use aipermission_core::envelope::Envelope;
use aipermission_core::outcome::ToolResult;
use serde_json::{Value, json};

use crate::exports::aipermission::bridge::typed_tools::{
    ActionDefinition, ActionOutcome, ActionRequest, ConnectorHelp, ErrorEnvelope, GrantedAction,
    Guest, RetryPolicy, Target, VaultItem, VaultItems, VaultOutcome, VaultRequest,
};
use crate::settings::Settings;

type Typed<T> = Result<T, ErrorEnvelope>;

impl Guest for crate::Bridge {
    fn list_connector_targets() -> Typed<Vec<Target>> {
        let body = run(ToolName::ListConnectorTargets, json!({}))?;
        Ok(items(&body).iter().map(target).collect())
    }

    fn get_connector_help(target_ref: String) -> Typed<ConnectorHelp> {
        let args = json!({"target_ref": target_ref});
        let body = run(ToolName::GetConnectorHelp, args)?;
        Ok(ConnectorHelp {
            title: text(&body, "title"),
            summary: text(&body, "summary"),
            usage: texts(&body, "usage"),
            warnings: texts(&body, "warnings"),
            connector: text(&body, "connector"),
            connector_id: text(&body, "connector_id"),
        })
    }

    fn get_connector_actions(target_ref: String) -> Typed<Vec<ActionDefinition>> {
        let args = json!({"target_ref": target_ref});
        let body = run(ToolName::GetConnectorActions, args)?;
        Ok(items(&body["items"]).iter().map(definition).collect())
    }

    fn call_connector_action(
        target_ref: String,
        action_name: String,
        input: Option<String>,
        reason: Option<String>,
        idempotency_key: String,
    ) -> Typed<ActionOutcome> {
        let mut args = json!({
            "target_ref": target_ref, "action_name": action_name,
            "idempotency_key": idempotency_key,
        });
        if let Some(input) = input {
            args["input"] = json_argument(input);
        }
        if let Some(reason) = reason {
            args["reason"] = reason.into();
        }
        let body = run(ToolName::CallConnectorAction, args)?;
        Ok(match stopped(&body) {
            Some(message) => ActionOutcome::Stopped(message),
            None => ActionOutcome::Recorded(action_request(&body)),
        })
    }

    fn get_connector_action_request(request_id: u64) -> Typed<ActionRequest> {
        let args = json!({"request_id": request_id});
        let body = run(ToolName::GetConnectorActionRequest, args)?;
        Ok(action_request(&body))
    }

    fn list_vault_items(project_ref: Option<String>) -> Typed<VaultItems> {
        let args = match project_ref {
            Some(project) => json!({"project_ref": project}),
            None => json!({}),
        };
        let body = run(ToolName::ListVaultItems, args)?;
        Ok(VaultItems {
            items: items(&body["items"]).iter().map(vault_item).collect(),
            count: number(&body, "count").unwrap_or(0),
            truncated: flag(&body, "truncated"),
        })
    }

    fn call_vault_action(
        project_ref: String,
        action_name: String,
        input: String,
        reason: String,
        idempotency_key: String,
    ) -> Typed<VaultOutcome> {
        let args = json!({
            "project_ref": project_ref, "action_name": action_name,
            "input": json_argument(input), "reason": reason,
            "idempotency_key": idempotency_key,
        });
        let body = run(ToolName::CallVaultAction, args)?;
        Ok(match stopped(&body) {
            Some(message) => VaultOutcome::Stopped(message),
            None => VaultOutcome::Recorded(vault_request(&body)),
        })
    }

    fn get_vault_action_request(request_id: u64) -> Typed<VaultRequest> {
        let args = json!({"request_id": request_id});
        let body = run(ToolName::GetVaultActionRequest, args)?;
        Ok(vault_request(&body))
    }

    fn cancel_vault_action_request(request_id: u64) -> Typed<VaultRequest> {
        let args = json!({"request_id": request_id});
        let body = run(ToolName::CancelVaultActionRequest, args)?;
        Ok(vault_request(&body))
    }
}

/// Runs `tool` as `call-tool` would, with the environment's settings, and
/// returns the gateway body or the envelope as a record.
#[allow(
    clippy::result_large_err,
    reason = "the WIT record every typed function returns; large on 64-bit targets only"
)]
fn run(tool: ToolName, args: Value) -> Typed<Value> {
    let result: ToolResult = crate::call(tool, &args, &Settings::from_environment());
    match result.envelope {
        Some(envelope) => Err(error_envelope(envelope)),
        None => Ok(result.value),
    }
}

/// JSON text given for an object argument, as a value: text that does not
/// parse stays a string, which the argument checks then refuse with the
/// same message a wrong type gets from `call-tool`.
fn json_argument(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn error_envelope(envelope: Envelope) -> ErrorEnvelope {
    ErrorEnvelope {
        status: envelope.status.unwrap_or_else(|| "error".to_owned()),
        code: envelope.code,
        request_id: envelope.request_id,
        assistant_hint: envelope.assistant_hint,
        idempotency_key: envelope.idempotency_key,
        retry_after_seconds: envelope.retry_after_seconds.map(seconds),
        error: envelope.error,
    }
}

/// The `stopped` shape's message, if the body is one.
fn stopped(body: &Value) -> Option<String> {
    (body["status"] == "stopped").then(|| text(body, "error"))
}

fn target(value: &Value) -> Target {
    Target {
        target_ref: text(value, "target_ref"),
        project_id: number(value, "project_id"),
        project_name: optional_text(value, "project_name"),
        project_slug: optional_text(value, "project_slug"),
        target_id: number(value, "target_id"),
        target_name: optional_text(value, "target_name"),
        connector_kind: optional_text(value, "connector_kind"),
        profile_id: number(value, "profile_id"),
        profile_label: optional_text(value, "profile_label"),
        profile_kind: optional_text(value, "profile_kind"),
        metadata: json_text(value, "metadata"),
        actions: items(&value["actions"])
            .iter()
            .map(|action| GrantedAction {
                name: text(action, "name"),
                execution_rule: text(action, "execution_rule"),
                expires_at: optional_text(action, "expires_at"),
            })
            .collect(),
        hints: texts(value, "hints"),
    }
}

fn definition(value: &Value) -> ActionDefinition {
    ActionDefinition {
        name: text(value, "name"),
        label: text(value, "label"),
        description: text(value, "description"),
        category: optional_text(value, "category"),
        risk: text(value, "risk"),
        input_fields: value["input_schema"]["fields"].to_string(),
        sensitive_input_fields: texts(value, "sensitive_input_fields"),
        output_hint: json_text(value, "output_hint"),
        retry_policy: retry_policy(&value["retry_policy"]),
        max_input_bytes: number(value, "max_input_bytes").unwrap_or(0),
    }
}

fn retry_policy(value: &Value) -> RetryPolicy {
    RetryPolicy {
        class: text(value, "class"),
        precondition_fields: texts(value, "precondition_fields"),
        guidance: text(value, "guidance"),
    }
}

fn action_request(value: &Value) -> ActionRequest {
    ActionRequest {
        status: text(value, "status"),
        request_id: number(value, "request_id").unwrap_or(0),
        target_ref: text(value, "target_ref"),
        target_name: optional_text(value, "target_name"),
        connector_kind: text(value, "connector_kind"),
        profile_label: optional_text(value, "profile_label"),
        action_name: text(value, "action_name"),
        input: json_text(value, "input"),
        output: json_text(value, "output"),
        display_text: optional_text(value, "display_text"),
        error: optional_text(value, "error"),
        retry_policy: retry_policy(&value["retry_policy"]),
        retry_after_seconds: number(value, "retry_after_seconds").map(seconds),
        assistant_hint: optional_text(value, "assistant_hint"),
        output_withheld: flag(value, "output_withheld"),
        replayed: flag(value, "replayed"),
    }
}

fn vault_item(value: &Value) -> VaultItem {
    VaultItem {
        vault_ref: text(value, "vault_ref"),
        item_id: number(value, "item_id").unwrap_or(0),
        project_ref: text(value, "project_ref"),
        source_project_id: number(value, "source_project_id").unwrap_or(0),
        name: text(value, "name"),
        secret_type: text(value, "secret_type"),
        status: text(value, "status"),
        expires_at: optional_text(value, "expires_at"),
        value_version: number(value, "value_version").unwrap_or(0),
        metadata_revision: number(value, "metadata_revision").unwrap_or(0),
    }
}

fn vault_request(value: &Value) -> VaultRequest {
    VaultRequest {
        status: text(value, "status"),
        request_id: number(value, "request_id").unwrap_or(0),
        project_ref: text(value, "project_ref"),
        action_name: text(value, "action_name"),
        input: json_text(value, "input"),
        reason: optional_text(value, "reason"),
        created_at: optional_text(value, "created_at"),
        expires_at: optional_text(value, "expires_at"),
        output: json_text(value, "output"),
        output_withheld: flag(value, "output_withheld"),
        error: optional_text(value, "error"),
        retry_after_seconds: number(value, "retry_after_seconds").map(seconds),
        assistant_hint: optional_text(value, "assistant_hint"),
    }
}

// The readers below take what the contract already checked: a required
// field is there with its type, so their fallbacks are never used.

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn text(value: &Value, key: &str) -> String {
    optional_text(value, key).unwrap_or_default()
}

fn optional_text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn texts(value: &Value, key: &str) -> Vec<String> {
    items(&value[key])
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// An integer field, which the contract lets the gateway write as `12`
/// or `12.0`.
fn number(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(contracts::whole_number)
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// An opaque field as compact JSON text, if present (a JSON null counts
/// as present: the connector said null).
fn json_text(value: &Value, key: &str) -> Option<String> {
    value.get(key).map(Value::to_string)
}

/// Retry delays are at most an hour, by contract.
fn seconds(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_number_floats_the_contract_accepts_keep_their_value() {
        let record = json!({
            "status": "completed", "request_id": 12.0, "target_ref": "ssh:4:2",
            "connector_kind": "ssh", "action_name": "exec", "retry_after_seconds": 5.0,
            "retry_policy": {"class": "read_only", "guidance": "g"}, "output": {"n": 1.5},
        });
        let request = action_request(&record);
        assert_eq!(request.request_id, 12);
        assert_eq!(request.retry_after_seconds, Some(5));
        assert_eq!(request.output.as_deref(), Some(r#"{"n":1.5}"#));
        assert!(!request.output_withheld && !request.replayed);
        assert_eq!(request.input, None, "an absent field stays absent");
    }
}
