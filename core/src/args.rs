//! Checks a tool call's arguments and turns them into the one gateway
//! request the tool makes. A call that fails here sends nothing.

use std::fmt;

use serde_json::{Map, Value};

use crate::catalog::ToolName;
use crate::contracts::Contract;

/// Longest idempotency key the gateway stores, in UTF-8 bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Largest integer a JSON number carries exactly in every client (2^53 - 1):
/// a larger request id could not have come from the gateway intact.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// HTTP method of a gateway request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request to the gateway, relative to its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayRequest {
    pub method: Method,
    /// Path and query, e.g. `/api/mcp/connector-help?target_ref=ssh%3A1%3A2`.
    pub path: String,
    /// JSON body of a POST.
    pub body: Option<String>,
    /// The caller's idempotency key, echoed when the outcome is unknown.
    pub idempotency_key: Option<String>,
    /// The request a cancel is about, echoed when its outcome is unknown.
    pub request_id: Option<u64>,
    /// What a successful answer must look like.
    pub contract: Contract,
}

impl GatewayRequest {
    /// A POST asks the gateway to act, so a lost answer is not a refusal.
    pub fn is_mutation(&self) -> bool {
        self.method == Method::Post
    }

    fn get(path: String, contract: Contract) -> GatewayRequest {
        GatewayRequest {
            method: Method::Get,
            path,
            body: None,
            idempotency_key: None,
            request_id: None,
            contract,
        }
    }
}

/// An argument that does not fit the tool's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    /// The argument's name, or `arguments` for the object as a whole.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for ArgError {}

/// Checks `arguments` (a JSON object, or null for none) for `tool` and
/// builds its gateway request. Keys the tool does not know are ignored.
pub fn prepare(tool: ToolName, arguments: &Value) -> Result<GatewayRequest, ArgError> {
    let empty = Map::new();
    let args = match arguments {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err(problem("arguments", "must be an object")),
    };

    match tool {
        ToolName::ListConnectorTargets => Ok(GatewayRequest::get(
            "/api/mcp/connector-targets".into(),
            Contract::Targets,
        )),
        ToolName::GetConnectorHelp => {
            let target = trimmed(args, "target_ref")?;
            let path = format!("/api/mcp/connector-help?target_ref={}", form_encode(target));
            Ok(GatewayRequest::get(path, Contract::Help))
        }
        ToolName::GetConnectorActions => {
            let target = trimmed(args, "target_ref")?;
            let path = format!(
                "/api/mcp/connector-actions?target_ref={}",
                form_encode(target)
            );
            Ok(GatewayRequest::get(path, Contract::Actions))
        }
        ToolName::CallConnectorAction => {
            let target = trimmed(args, "target_ref")?;
            let action = trimmed(args, "action_name")?;
            let input = match args.get("input") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(input @ Value::Object(_)) => input.clone(),
                Some(_) => return Err(problem("input", "must be an object")),
            };
            let reason = optional_string(args, "reason")?.unwrap_or("");
            let key = idempotency_key(args)?;
            let contract = Contract::ActionCall {
                target_ref: target.to_owned(),
                action_name: action.to_owned(),
            };
            let fields = [("target_ref", target), ("action_name", action)];
            Ok(action_call(
                "/api/mcp/connector-actions/call",
                fields,
                input,
                reason,
                key,
                contract,
            ))
        }
        ToolName::GetConnectorActionRequest => {
            let id = request_id(args)?;
            let path = format!("/api/mcp/connector-action-requests/{id}");
            Ok(GatewayRequest::get(
                path,
                Contract::ActionRead { request_id: id },
            ))
        }
        ToolName::ListVaultItems => {
            let path = match optional_string(args, "project_ref")?.map(str::trim) {
                None => "/api/mcp/vault-items".to_owned(),
                Some("") => return Err(problem("project_ref", "must not be empty")),
                Some(project) => {
                    format!("/api/mcp/vault-items?project_ref={}", form_encode(project))
                }
            };
            Ok(GatewayRequest::get(path, Contract::VaultItems))
        }
        ToolName::CallVaultAction => vault_call(args),
        ToolName::GetVaultActionRequest => {
            let id = request_id(args)?;
            let path = format!("/api/mcp/vault-action-requests/{id}");
            Ok(GatewayRequest::get(
                path,
                Contract::VaultRead { request_id: id },
            ))
        }
        ToolName::CancelVaultActionRequest => {
            let id = request_id(args)?;
            Ok(GatewayRequest {
                method: Method::Post,
                path: format!("/api/mcp/vault-action-requests/{id}/cancel"),
                body: Some("{}".to_owned()),
                idempotency_key: None,
                request_id: Some(id),
                contract: Contract::VaultCancel { request_id: id },
            })
        }
    }
}

/// `call_vault_action`: every argument is required.
fn vault_call(args: &Map<String, Value>) -> Result<GatewayRequest, ArgError> {
    let project = trimmed(args, "project_ref")?;
    let action = required_string(args, "action_name")?;
    if !crate::contracts::VAULT_ACTIONS.contains(&action) {
        return Err(problem(
            "action_name",
            "must be generate_item or restart_session_with_environment",
        ));
    }
    let input = match args.get("input") {
        Some(input @ Value::Object(_)) => input.clone(),
        None | Some(Value::Null) => return Err(problem("input", "is required")),
        Some(_) => return Err(problem("input", "must be an object")),
    };
    // Not trimmed, as the Node bridge does; the gateway refuses a blank one.
    let reason = required_string(args, "reason")?;
    if reason.is_empty() {
        return Err(problem("reason", "must not be empty"));
    }
    let key = idempotency_key(args)?;
    let contract = Contract::VaultCall {
        action_name: action.to_owned(),
    };
    let fields = [("project_ref", project), ("action_name", action)];
    Ok(action_call(
        "/api/mcp/vault-actions/call",
        fields,
        input,
        reason,
        key,
        contract,
    ))
}

/// The POST of a connector or Vault action call: the two identifying
/// fields, then `input`, `reason` and `idempotency_key`, in the order the
/// gateway documents (the map keeps insertion order).
fn action_call(
    path: &str,
    identity: [(&str, &str); 2],
    input: Value,
    reason: &str,
    key: &str,
    contract: Contract,
) -> GatewayRequest {
    let mut body: Map<String, Value> = identity
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.into()))
        .collect();
    body.insert("input".into(), input);
    body.insert("reason".into(), reason.into());
    body.insert("idempotency_key".into(), key.into());
    GatewayRequest {
        method: Method::Post,
        path: path.to_owned(),
        body: Some(Value::Object(body).to_string()),
        idempotency_key: Some(key.to_owned()),
        request_id: None,
        contract,
    }
}

fn problem(field: &'static str, problem: &'static str) -> ArgError {
    ArgError { field, problem }
}

fn required_string<'a>(
    args: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ArgError> {
    optional_string(args, field)?.ok_or(problem(field, "is required"))
}

fn optional_string<'a>(
    args: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, ArgError> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(problem(field, "must be a string")),
    }
}

/// A required string, trimmed, that must not be blank.
fn trimmed<'a>(args: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, ArgError> {
    let value = required_string(args, field)?.trim();
    if value.is_empty() {
        return Err(problem(field, "must not be empty"));
    }
    Ok(value)
}

fn idempotency_key(args: &Map<String, Value>) -> Result<&str, ArgError> {
    let key = required_string(args, "idempotency_key")?;
    if key.is_empty() {
        return Err(problem("idempotency_key", "must not be empty"));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(problem(
            "idempotency_key",
            "Idempotency key must not exceed 128 UTF-8 bytes.",
        ));
    }
    Ok(key)
}

/// A positive integer request id. `7.0` is accepted as 7, as a JSON
/// number it is the same value; strings and fractions are not.
fn request_id(args: &Map<String, Value>) -> Result<u64, ArgError> {
    const BAD: &str = "must be a positive integer";
    let value = args
        .get("request_id")
        .ok_or(problem("request_id", "is required"))?;
    let id = match value {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(id), _) => id,
            (None, Some(f)) if f.fract() == 0.0 && f >= 1.0 && f <= MAX_SAFE_INTEGER as f64 => {
                f as u64
            }
            _ => return Err(problem("request_id", BAD)),
        },
        _ => return Err(problem("request_id", BAD)),
    };
    if id == 0 || id > MAX_SAFE_INTEGER {
        return Err(problem("request_id", BAD));
    }
    Ok(id)
}

/// `application/x-www-form-urlencoded` encoding, as URLSearchParams does it
/// (`:` becomes `%3A`, a space `+`).
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(args: Value) -> Result<GatewayRequest, ArgError> {
        prepare(ToolName::CallConnectorAction, &args)
    }

    #[test]
    fn builds_the_call_body_in_order_with_defaults_and_trimming() {
        let req = call(json!({
            "idempotency_key": "k-1",
            "target_ref": " redis:1:1 ",
            "action_name": "\tset_string\n",
            "input": {"value": "  spaced  "},
            "surprise": true
        }))
        .unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.path, "/api/mcp/connector-actions/call");
        assert_eq!(
            req.body.as_deref(),
            Some(concat!(
                r#"{"target_ref":"redis:1:1","action_name":"set_string","#,
                r#""input":{"value":"  spaced  "},"reason":"","idempotency_key":"k-1"}"#
            ))
        );
        assert_eq!(req.idempotency_key.as_deref(), Some("k-1"));
    }

    #[test]
    fn refuses_bad_call_arguments_naming_the_field() {
        let base = json!({"target_ref": "a:1:1", "action_name": "x", "idempotency_key": "k"});
        let with = |key: &str, value: Value| {
            let mut args = base.clone();
            args[key] = value;
            call(args).unwrap_err().field
        };
        assert_eq!(with("target_ref", json!("   ")), "target_ref");
        assert_eq!(with("action_name", json!(7)), "action_name");
        assert_eq!(with("input", json!([1])), "input");
        assert_eq!(with("reason", json!(false)), "reason");
        assert_eq!(with("idempotency_key", json!("")), "idempotency_key");
        let mut missing = base.clone();
        missing.as_object_mut().unwrap().remove("idempotency_key");
        assert_eq!(
            call(missing).unwrap_err().to_string(),
            "idempotency_key: is required"
        );
        assert_eq!(call(json!([])).unwrap_err().field, "arguments");
    }

    #[test]
    fn limits_the_key_to_128_utf8_bytes() {
        let args = |key: String| {
            let mut args = json!({"target_ref": "a:1:1", "action_name": "x"});
            args["idempotency_key"] = key.into();
            args
        };
        assert!(call(args("k".repeat(128))).is_ok());
        assert!(call(args("ş".repeat(64))).is_ok());
        let err = call(args("ş".repeat(65))).unwrap_err();
        assert!(err.to_string().contains("128 UTF-8 bytes"));
        assert!(call(args("k".repeat(129))).is_err());
    }

    #[test]
    fn encodes_target_refs_like_url_search_params() {
        let req = prepare(
            ToolName::GetConnectorHelp,
            &json!({"target_ref": " ssh:3:1 x&y "}),
        )
        .unwrap();
        assert_eq!(
            req.path,
            "/api/mcp/connector-help?target_ref=ssh%3A3%3A1+x%26y"
        );
        assert!(!req.is_mutation());
    }

    #[test]
    fn request_ids_are_positive_safe_integers() {
        let get = |id: Value| {
            prepare(
                ToolName::GetConnectorActionRequest,
                &json!({"request_id": id}),
            )
        };
        assert_eq!(
            get(json!(42)).unwrap().path,
            "/api/mcp/connector-action-requests/42"
        );
        assert_eq!(
            get(json!(7.0)).unwrap().path,
            "/api/mcp/connector-action-requests/7"
        );
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("42"),
            json!(9007199254740992u64),
            json!(null),
        ] {
            assert_eq!(get(bad.clone()).unwrap_err().field, "request_id", "{bad}");
        }
    }

    #[test]
    fn null_arguments_mean_none() {
        assert!(prepare(ToolName::ListConnectorTargets, &Value::Null).is_ok());
        assert!(prepare(ToolName::ListVaultItems, &Value::Null).is_ok());
    }

    #[test]
    fn vault_calls_require_every_field() {
        let base = json!({"project_ref": " slug:lab ", "action_name": "generate_item",
            "input": {"name": "db", "generator_kind": "password"}, "reason": "rotate",
            "idempotency_key": "v-1"});
        let req = prepare(ToolName::CallVaultAction, &base).unwrap();
        assert_eq!(req.path, "/api/mcp/vault-actions/call");
        assert_eq!(
            req.body.as_deref(),
            Some(concat!(
                r#"{"project_ref":"slug:lab","action_name":"generate_item","#,
                r#""input":{"name":"db","generator_kind":"password"},"reason":"rotate","#,
                r#""idempotency_key":"v-1"}"#
            ))
        );
        let without = |key: &str| {
            let mut args = base.clone();
            args.as_object_mut().unwrap().remove(key);
            prepare(ToolName::CallVaultAction, &args).unwrap_err().field
        };
        for key in [
            "project_ref",
            "action_name",
            "input",
            "reason",
            "idempotency_key",
        ] {
            assert_eq!(without(key), key);
        }
        let with = |key: &str, value: Value| {
            let mut args = base.clone();
            args[key] = value;
            prepare(ToolName::CallVaultAction, &args).map(|_| ())
        };
        assert_eq!(
            with("project_ref", json!("   ")).unwrap_err().field,
            "project_ref"
        );
        assert_eq!(
            with("action_name", json!("reveal_secret"))
                .unwrap_err()
                .field,
            "action_name"
        );
        assert_eq!(with("reason", json!("")).unwrap_err().field, "reason");
        assert!(with("idempotency_key", json!("k".repeat(129))).is_err());
    }

    #[test]
    fn vault_reads_and_cancels() {
        let list = prepare(ToolName::ListVaultItems, &json!({"project_ref": " id:3 "})).unwrap();
        assert_eq!(list.path, "/api/mcp/vault-items?project_ref=id%3A3");
        let blank = prepare(ToolName::ListVaultItems, &json!({"project_ref": "  "}));
        assert_eq!(blank.unwrap_err().field, "project_ref");
        let cancel = prepare(
            ToolName::CancelVaultActionRequest,
            &json!({"request_id": 42}),
        )
        .unwrap();
        assert_eq!(cancel.path, "/api/mcp/vault-action-requests/42/cancel");
        assert_eq!(cancel.body.as_deref(), Some("{}"));
        assert!(cancel.is_mutation());
        assert_eq!(
            (cancel.request_id, cancel.idempotency_key),
            (Some(42), None)
        );
        let zero = prepare(ToolName::GetVaultActionRequest, &json!({"request_id": 0}));
        assert_eq!(zero.unwrap_err().field, "request_id");
    }
}
