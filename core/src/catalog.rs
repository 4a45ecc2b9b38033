//! The tool catalog: names, descriptions, input schemas and annotations,
//! kept compatible with the Node bridge so clients and prompts that know
//! one know the other.

use serde_json::{Value, json};

/// Every tool the bridge offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ToolName {
    ListConnectorTargets,
    GetConnectorHelp,
    GetConnectorActions,
    CallConnectorAction,
    GetConnectorActionRequest,
    ListVaultItems,
    CallVaultAction,
    GetVaultActionRequest,
    CancelVaultActionRequest,
}

/// The catalog in the order `tools/list` shows it.
pub const ALL: [ToolName; 9] = [
    ToolName::ListConnectorTargets,
    ToolName::GetConnectorHelp,
    ToolName::GetConnectorActions,
    ToolName::CallConnectorAction,
    ToolName::GetConnectorActionRequest,
    ToolName::ListVaultItems,
    ToolName::CallVaultAction,
    ToolName::GetVaultActionRequest,
    ToolName::CancelVaultActionRequest,
];

/// Behaviour hints, as MCP `ToolAnnotations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// Hints of every tool that only reads from the gateway.
const READ: Annotations = Annotations {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};

/// Hints of a tool that runs an action on a connector target.
const ACTION: Annotations = Annotations {
    read_only: false,
    destructive: true,
    idempotent: false,
    open_world: true,
};

/// Hints of the tool that cancels a pending Vault request: it changes the
/// request, and nothing beyond the gateway.
const CANCEL: Annotations = Annotations {
    read_only: false,
    destructive: true,
    idempotent: false,
    open_world: false,
};

/// One tool's listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    pub name: ToolName,
    pub description: &'static str,
    pub input_schema: Value,
    pub annotations: Annotations,
}

impl ToolName {
    /// The MCP tool name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::ListConnectorTargets => "list_connector_targets",
            ToolName::GetConnectorHelp => "get_connector_help",
            ToolName::GetConnectorActions => "get_connector_actions",
            ToolName::CallConnectorAction => "call_connector_action",
            ToolName::GetConnectorActionRequest => "get_connector_action_request",
            ToolName::ListVaultItems => "list_vault_items",
            ToolName::CallVaultAction => "call_vault_action",
            ToolName::GetVaultActionRequest => "get_vault_action_request",
            ToolName::CancelVaultActionRequest => "cancel_vault_action_request",
        }
    }

    /// Looks a tool up by its MCP name.
    pub fn parse(name: &str) -> Option<ToolName> {
        ALL.into_iter().find(|tool| tool.as_str() == name)
    }

    /// Whether the tool asks the gateway to do something (a POST), so a
    /// lost answer leaves its outcome unknown.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            ToolName::CallConnectorAction
                | ToolName::CallVaultAction
                | ToolName::CancelVaultActionRequest
        )
    }

    /// The tool's full listing.
    pub fn describe(self) -> Tool {
        let (description, input_schema, annotations) = match self {
            ToolName::ListConnectorTargets => (
                "List the connector targets this token may use (servers, databases, \
                 caches, clusters and other systems), each with its target_ref, \
                 project, connector kind, credential profile and permitted actions. \
                 Credentials and secrets are never returned. Start here.",
                object_schema(json!({}), &[]),
                READ,
            ),
            ToolName::GetConnectorHelp => (
                "Read the AI-facing help for one connector target and credential \
                 profile: what the connector does, how to use it and its warnings. \
                 Read it before the first action on a target.",
                object_schema(json!({ "target_ref": target_ref() }), &["target_ref"]),
                READ,
            ),
            ToolName::GetConnectorActions => (
                "List the actions this token may call on one connector target and \
                 credential profile, with their input fields, risk, retry policy and \
                 input size limit. Every call is still checked against the token's \
                 permissions.",
                object_schema(json!({ "target_ref": target_ref() }), &["target_ref"]),
                READ,
            ),
            ToolName::CallConnectorAction => (
                "Call one action on a connector target through the local AIPermission \
                 gateway; the operator may have to approve it first. Give a short \
                 reason and a caller-chosen idempotency_key, and reuse that key only \
                 to retry the same call with unchanged input. If the status is \
                 approval_pending or running, follow assistant_hint and poll \
                 get_connector_action_request after retry_after_seconds. Never put \
                 raw secrets in input.",
                object_schema(
                    json!({
                        "target_ref": target_ref(),
                        "action_name": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Action name from get_connector_actions."
                        },
                        "input": {
                            "type": "object",
                            "additionalProperties": {},
                            "description": "Action input fields as listed by \
                                get_connector_actions. Never include raw secrets."
                        },
                        "reason": {
                            "type": "string",
                            "description": "Short reason shown to the operator."
                        },
                        "idempotency_key": idempotency_key()
                    }),
                    &["target_ref", "action_name", "idempotency_key"],
                ),
                ACTION,
            ),
            ToolName::GetConnectorActionRequest => (
                "Read one connector action request by request_id, for example after \
                 approval_pending or running. Reading a request that failed is not \
                 an error: its status tells what happened.",
                object_schema(
                    json!({
                        "request_id": {
                            "type": "integer",
                            "exclusiveMinimum": 0,
                            "description": "request_id returned by call_connector_action."
                        }
                    }),
                    &["request_id"],
                ),
                READ,
            ),
            ToolName::ListVaultItems => (
                "List the Project Vault items this token may see: secret names with \
                 bounded, non-secret metadata (type, status, versions, expiry). Secret \
                 values are never returned.",
                object_schema(
                    json!({
                        "project_ref": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Project reference, preferably id:<id> or \
                                slug:<slug>. Omit it to list every readable project."
                        }
                    }),
                    &[],
                ),
                READ,
            ),
            ToolName::CallVaultAction => (
                "Run a Project Vault action under the project's capability: Prompt \
                 waits for the operator's approval, Always runs at once. generate_item \
                 creates a secret and returns only its metadata; input: name and \
                 generator_kind (required), secret_type, provider, environment, \
                 description, expires_at, expiry_warning_days, tags, usage_notes \
                 [{location, notes}], shared_project_ids. \
                 restart_session_with_environment restarts a connector session with \
                 Vault items as environment variables; input: target_ref and items \
                 [{item_id, source_project_id, replace_existing}]. Never include raw \
                 secret values. If the status is approval_pending, poll \
                 get_vault_action_request after retry_after_seconds.",
                object_schema(
                    json!({
                        "project_ref": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Project reference, preferably id:<id> or \
                                slug:<slug>."
                        },
                        "action_name": {
                            "type": "string",
                            "enum": ["generate_item", "restart_session_with_environment"],
                            "description": "The Vault action to run."
                        },
                        "input": {
                            "type": "object",
                            "additionalProperties": {},
                            "description": "The action's input fields, as listed above. \
                                Never include raw secret values."
                        },
                        "reason": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Short reason shown to the operator."
                        },
                        "idempotency_key": idempotency_key()
                    }),
                    &[
                        "project_ref",
                        "action_name",
                        "input",
                        "reason",
                        "idempotency_key",
                    ],
                ),
                ACTION,
            ),
            ToolName::GetVaultActionRequest => (
                "Read one Project Vault action request by request_id, for example \
                 after approval_pending. Secret values are never included; reading a \
                 request that failed is not an error.",
                object_schema(json!({ "request_id": vault_request_id() }), &["request_id"]),
                READ,
            ),
            ToolName::CancelVaultActionRequest => (
                "Cancel one approval_pending Project Vault request that this token \
                 created. Running and finished requests cannot be canceled.",
                object_schema(json!({ "request_id": vault_request_id() }), &["request_id"]),
                CANCEL,
            ),
        };
        Tool {
            name: self,
            description,
            input_schema,
            annotations,
        }
    }
}

/// The schema of the `target_ref` argument, shared by several tools.
fn target_ref() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "description": "Target reference from list_connector_targets, in \
            connector:target_id:profile_id form."
    })
}

/// The schema of an `idempotency_key` argument.
fn idempotency_key() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "description": "Caller-chosen key for this call, 1 to 128 UTF-8 bytes. Reuse it \
            only to retry the same call with unchanged input; use a new key for a new call."
    })
}

/// The schema of a Vault `request_id` argument.
fn vault_request_id() -> Value {
    json!({
        "type": "integer",
        "exclusiveMinimum": 0,
        "description": "request_id returned by call_vault_action."
    })
}

/// An arguments object schema. Unknown keys are listed as not allowed, as
/// the Node bridge publishes them, but a call that sends them is not
/// refused: they are dropped.
fn object_schema(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema["additionalProperties"] = json!(false);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_the_naming_rule() {
        for tool in ALL {
            let name = tool.as_str();
            assert_eq!(ToolName::parse(name), Some(tool));
            assert!(name.len() <= 64 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(ToolName::parse("exec"), None);
    }

    #[test]
    fn schemas_are_objects_with_known_required_fields() {
        for tool in ALL {
            let schema = tool.describe().input_schema;
            assert_eq!(schema["type"], "object");
            for field in schema["required"].as_array().into_iter().flatten() {
                assert!(schema["properties"][field.as_str().unwrap()].is_object());
            }
        }
    }
}
