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
}

/// The catalog in the order `tools/list` shows it.
pub const ALL: [ToolName; 5] = [
    ToolName::ListConnectorTargets,
    ToolName::GetConnectorHelp,
    ToolName::GetConnectorActions,
    ToolName::CallConnectorAction,
    ToolName::GetConnectorActionRequest,
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
        }
    }

    /// Looks a tool up by its MCP name.
    pub fn parse(name: &str) -> Option<ToolName> {
        ALL.into_iter().find(|tool| tool.as_str() == name)
    }

    /// Whether the tool asks the gateway to do something (a POST), so a
    /// lost answer leaves its outcome unknown.
    pub fn is_mutation(self) -> bool {
        matches!(self, ToolName::CallConnectorAction)
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
                        "idempotency_key": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Caller-chosen key for this call, 1 to 128 \
                                UTF-8 bytes. Reuse it only to retry the same call with \
                                unchanged input; use a new key for a new call."
                        }
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
