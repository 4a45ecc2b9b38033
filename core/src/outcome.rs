//! Turns what happened to a gateway request into the tool result the
//! client sees: the gateway's JSON on success, or an error envelope that
//! says what is known, and above all whether a mutation may have run.

use serde_json::Value;

use crate::args::{ArgError, GatewayRequest};
use crate::catalog::ToolName;
use crate::contracts::{self, Contract};
use crate::envelope::Envelope;

/// Largest gateway response body read, 8 MiB: far above any documented
/// gateway answer (connector output is capped at 4 MiB encoded), small
/// enough that parsing and pretty-printing it fits the component's memory.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Largest answer the bridge puts in one message, in bytes of JSON-RPC
/// text: rmcp-based clients (Codex among them) drop incoming lines over
/// 16 MiB without a word, so results stay well below that. A result whose
/// pretty text would not fit is sent compact, and the structured copy is
/// left out when both would not fit; the text alone is what the Node
/// bridge sent, so no client loses information.
pub const MAX_ANSWER_BYTES: usize = 12 * 1024 * 1024;

/// Connector statuses a call result reports as success; every other status
/// marks the result as an error, while its text stays the gateway's body.
const SUCCESS_STATUSES: [&str; 3] = ["completed", "approval_pending", "running"];

/// A shaped tool result.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    /// The gateway JSON or the error envelope.
    pub value: Value,
    /// Whether the client should treat the call as failed.
    pub is_error: bool,
    /// The envelope when the call failed without a usable gateway answer;
    /// none when `value` is a gateway body that met its contract (whose
    /// status may still mark it as an error).
    pub envelope: Option<Envelope>,
    /// Key under which a top-level array goes in the structured content,
    /// which must be an object.
    wrap_array: Option<&'static str>,
}

impl ToolResult {
    /// An error result carrying `envelope`.
    pub fn error(envelope: Envelope) -> ToolResult {
        ToolResult {
            value: envelope.to_value(),
            is_error: true,
            envelope: Some(envelope),
            wrap_array: None,
        }
    }

    /// The text and structured content to send: the value pretty-printed
    /// with two spaces, and the same value as compact JSON when it is an
    /// object (an array is wrapped under the tool's key), both within
    /// [`MAX_ANSWER_BYTES`].
    pub fn render(&self) -> Rendered {
        let compact = serde_json::to_string(&self.value).unwrap_or_default();
        let pretty = serde_json::to_string_pretty(&self.value).unwrap_or_default();
        let text = if escaped_len(&pretty) <= MAX_ANSWER_BYTES {
            pretty
        } else {
            compact.clone()
        };
        let structured = match (&self.value, self.wrap_array) {
            (Value::Object(_), _) => Some(compact),
            (Value::Array(_), Some(key)) => Some(format!("{{{}:{compact}}}", Value::from(key))),
            _ => None,
        };
        let fits = |s: &String| escaped_len(&text) + s.len() <= MAX_ANSWER_BYTES;
        let structured = structured.filter(fits);
        Rendered { text, structured }
    }
}

/// A result ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub structured: Option<String>,
}

/// Bytes `text` takes as a JSON string.
fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .filter(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r' | b'\t'))
            .count()
}

/// How a gateway request failed before a usable answer arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The request provably never reached the gateway: the connection was
    /// refused, or the host's egress policy denied it (`denied`).
    NotDispatched { denied: bool },
    /// The one deadline for connect, headers and body ran out.
    Timeout { ms: u32 },
    /// The connection broke, the body was cut short, too large, not UTF-8
    /// or not a JSON object or array.
    Unavailable,
}

/// Why the host stopped a call, as the component is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    Deadline,
    Memory,
    Trap,
}

/// The tool result for arguments that failed their checks.
pub fn invalid_arguments(tool: ToolName, err: &ArgError) -> ToolResult {
    ToolResult::error(Envelope {
        code: Some("invalid_arguments".into()),
        ..Envelope::error(format!("Invalid arguments for {}: {err}", tool.as_str()))
    })
}

/// The tool result when `AIPERMISSION_API_URL` was refused at start.
pub fn invalid_url() -> ToolResult {
    ToolResult::error(Envelope::error(
        "Invalid local gateway URL configuration; update AIPERMISSION_API_URL.",
    ))
}

/// The tool result when no token is configured.
pub fn missing_token() -> ToolResult {
    ToolResult::error(Envelope::error("AIPERMISSION_API_TOKEN is required."))
}

/// The tool result when the request cannot be built, for example because
/// the token is not a valid header value. Never names the token.
pub fn invalid_request_configuration() -> ToolResult {
    ToolResult::error(Envelope::error(
        "Invalid local gateway request configuration; check the API URL and token.",
    ))
}

/// Shapes a complete HTTP answer: its status code, `Retry-After` header
/// and body (at most [`MAX_RESPONSE_BYTES`], already read in full).
pub fn from_answer(
    request: &GatewayRequest,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> ToolResult {
    // 204 carries no body: the answer is JSON null, which no contract
    // accepts, so it ends as a contract failure below.
    let value = if status == 204 {
        Value::Null
    } else {
        match parse_body(body) {
            Some(value) => value,
            None => return from_failure(request, &Failure::Unavailable),
        }
    };

    if !(200..300).contains(&status) {
        // The gateway answered: its own status says what happened, even to
        // a mutation, so this is never reclassified as a lost response.
        return ToolResult::error(Envelope::from_gateway_error(status, &value, retry_after));
    }
    if contracts::check(&request.contract, &value).is_err() {
        return contract_failure(request);
    }
    // Even compact, a large answer can grow when re-printed (numbers in
    // long form, escaped quotes); one that cannot be sent at all fails.
    if body.len() > MAX_ANSWER_BYTES / 12 {
        let compact = serde_json::to_string(&value).unwrap_or_default();
        if escaped_len(&compact) > MAX_ANSWER_BYTES {
            return too_large(request);
        }
    }

    let is_error = request.contract.status_marks_errors() && !is_success_status(&value);
    ToolResult {
        value,
        is_error,
        envelope: None,
        wrap_array: (request.contract == Contract::Targets).then_some("targets"),
    }
}

/// Shapes a request that produced no usable answer.
pub fn from_failure(request: &GatewayRequest, failure: &Failure) -> ToolResult {
    let message = match failure {
        Failure::NotDispatched { denied: false } => {
            return ToolResult::error(Envelope::error(
                "AIPermission gateway connection failed before request dispatch.",
            ));
        }
        Failure::NotDispatched { denied: true } => {
            return ToolResult::error(Envelope::error(
                "AIPermission gateway connection failed before request dispatch: \
                 the bridge's egress policy refused the request.",
            ));
        }
        Failure::Timeout { ms } => format!("AIPermission API request timed out after {ms}ms"),
        Failure::Unavailable => "Gateway response unavailable or invalid.".to_owned(),
    };
    if request.is_mutation() {
        outcome_unknown(request, "gateway_transport_outcome_unknown", message, true)
    } else {
        ToolResult::error(Envelope::error(message))
    }
}

/// Shapes a call the host stopped. `dispatched` says whether a request
/// may have reached the gateway; `request` is none when the arguments were
/// not even valid, so nothing can have been sent.
pub fn from_interruption(
    request: Option<&GatewayRequest>,
    cause: Interruption,
    dispatched: bool,
) -> ToolResult {
    let message = match cause {
        Interruption::Deadline => "The bridge stopped the call at its wall-clock deadline.",
        Interruption::Memory => "The bridge stopped the call: it exceeded the memory limit.",
        Interruption::Trap => "The bridge stopped the call: its sandbox trapped.",
    };
    match request {
        Some(request) if dispatched && request.is_mutation() => outcome_unknown(
            request,
            "gateway_transport_outcome_unknown",
            message.to_owned(),
            true,
        ),
        _ => ToolResult::error(Envelope {
            code: Some("bridge_call_interrupted".into()),
            ..Envelope::error(message)
        }),
    }
}

/// A mutation whose outcome the bridge cannot know. `lost` says the answer
/// never arrived whole, as opposed to an answer that broke its contract.
fn outcome_unknown(
    request: &GatewayRequest,
    code: &str,
    message: String,
    lost: bool,
) -> ToolResult {
    let hint = match (&request.idempotency_key, lost) {
        (Some(_), true) => {
            "The gateway response was lost, so the action may have run. Reconcile by \
             calling again with the same idempotency key and unchanged input; never \
             retry blindly with a new key."
        }
        (Some(_), false) => {
            "The action may have run. Reconcile by calling again with the same \
             idempotency key and unchanged input; never retry blindly with a new key."
        }
        (None, _) => "Inspect the original request status before repeating this operation.",
    };
    ToolResult::error(Envelope {
        status: Some("outcome_unknown".into()),
        code: Some(code.into()),
        assistant_hint: Some(hint.into()),
        idempotency_key: request.idempotency_key.clone(),
        request_id: request.request_id,
        ..Envelope::error(message)
    })
}

/// A success answer too large to send in one MCP message.
fn too_large(request: &GatewayRequest) -> ToolResult {
    let message = "The gateway's answer is too large to send as one MCP message.";
    if request.is_mutation() {
        outcome_unknown(request, "gateway_response_too_large", message.into(), false)
    } else {
        ToolResult::error(Envelope {
            code: Some("gateway_response_too_large".into()),
            ..Envelope::error(message)
        })
    }
}

/// A success answer that breaks the tool's response contract.
fn contract_failure(request: &GatewayRequest) -> ToolResult {
    if request.is_mutation() {
        outcome_unknown(
            request,
            "gateway_response_contract_outcome_unknown",
            "The gateway accepted the mutation but its response failed MCP contract \
             validation; the operation may have completed."
                .into(),
            false,
        )
    } else {
        ToolResult::error(Envelope {
            code: Some("gateway_response_contract_invalid".into()),
            ..Envelope::error("Gateway success response failed MCP contract validation.")
        })
    }
}

/// The gateway's body as JSON: UTF-8 text whose top value is an object or
/// an array.
fn parse_body(body: &[u8]) -> Option<Value> {
    if body.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    match serde_json::from_str(text).ok()? {
        value @ (Value::Object(_) | Value::Array(_)) => Some(value),
        _ => None,
    }
}

fn is_success_status(value: &Value) -> bool {
    let status = value.get("status").and_then(Value::as_str);
    status.is_some_and(|s| SUCCESS_STATUSES.contains(&s))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::args::prepare;

    fn call_request() -> GatewayRequest {
        let args =
            json!({"target_ref": "ssh:1:1", "action_name": "exec", "idempotency_key": "k-7"});
        prepare(ToolName::CallConnectorAction, &args).unwrap()
    }

    fn list_request() -> GatewayRequest {
        prepare(ToolName::ListConnectorTargets, &Value::Null).unwrap()
    }

    fn read_request(id: u64) -> GatewayRequest {
        prepare(
            ToolName::GetConnectorActionRequest,
            &json!({"request_id": id}),
        )
        .unwrap()
    }

    /// A recorded request as the gateway sends it.
    fn recorded(status: &str, id: u64) -> Value {
        json!({
            "status": status, "request_id": id, "target_ref": "ssh:1:1",
            "connector_kind": "ssh", "action_name": "exec",
            "retry_policy": {"class": "non_idempotent", "guidance": "Do not repeat."}
        })
    }

    fn answer(request: &GatewayRequest, body: &Value) -> ToolResult {
        from_answer(request, 200, None, body.to_string().as_bytes())
    }

    #[test]
    fn call_status_decides_is_error() {
        for (status, is_error) in [
            ("completed", false),
            ("approval_pending", false),
            ("running", false),
            ("failed", true),
            ("blocked", true),
            ("outcome_unknown", true),
            ("declined", true),
        ] {
            let result = answer(&call_request(), &recorded(status, 7));
            assert_eq!(result.is_error, is_error, "{status}");
            assert_eq!(result.value["status"], status);
        }
        let stopped = json!({"status": "stopped", "error": "MCP execution is stopped."});
        let result = answer(&call_request(), &stopped);
        assert!(result.is_error);
        assert_eq!(result.value, stopped);
    }

    #[test]
    fn reading_a_failed_request_is_not_an_error() {
        let result = answer(&read_request(3), &recorded("failed", 3));
        assert!(!result.is_error);
    }

    #[test]
    fn targets_are_wrapped_in_structured_content_and_pretty_in_text() {
        let target = json!({
            "target_ref": "ssh:4:2", "project_id": 1, "project_name": "Lab",
            "project_slug": "lab", "target_id": 4, "target_name": "box",
            "connector_kind": "ssh", "profile_id": 2, "profile_label": "deploy",
            "profile_kind": "private_key", "actions": []
        });
        let result = answer(&list_request(), &json!([target]));
        let rendered = result.render();
        let structured: Value =
            serde_json::from_str(rendered.structured.as_deref().unwrap()).unwrap();
        assert_eq!(structured, json!({"targets": [target]}));
        assert!(
            rendered
                .text
                .starts_with("[\n  {\n    \"target_ref\": \"ssh:4:2\"")
        );
    }

    #[test]
    fn broken_bodies_are_unknown_for_mutations_and_errors_for_reads() {
        for body in [
            &b"<html>oops</html>"[..],
            b"\"text\"",
            b"null",
            b"{\"a\":",
            b"\xff\xfe",
        ] {
            let read = from_answer(&list_request(), 200, None, body);
            assert_eq!(
                read.value,
                json!({"status": "error", "error": "Gateway response unavailable or invalid."})
            );
            let call = from_answer(&call_request(), 200, None, body);
            assert_eq!(call.value["status"], "outcome_unknown");
            assert_eq!(call.value["code"], "gateway_transport_outcome_unknown");
            assert_eq!(call.value["idempotency_key"], "k-7");
            assert!(
                call.value["assistant_hint"]
                    .as_str()
                    .unwrap()
                    .contains("same idempotency key")
            );
            assert!(!call.render().text.contains("oops"));
        }
    }

    #[test]
    fn gateway_errors_are_lifted_even_for_mutations() {
        let body = br#"{"error":"connector target not found"}"#;
        let result = from_answer(&call_request(), 404, None, body);
        assert_eq!(
            result.value,
            json!({"status": "error", "error": "connector target not found"})
        );
        let redirect = from_answer(&list_request(), 302, None, b"{}");
        assert_eq!(
            redirect.value["error"],
            "AIPermission API request failed with 302"
        );
    }

    #[test]
    fn huge_results_stay_within_one_answer() {
        // Opaque connector output of `[]` elements up to the 8 MiB cap.
        let mut envelope = recorded("completed", 9).to_string();
        envelope.pop();
        let room = MAX_RESPONSE_BYTES - envelope.len() - r#","output":[]}"#.len();
        let output = vec!["[]"; room / 3].join(",");
        let body = format!(r#"{envelope},"output":[{output}]}}"#);
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let result = from_answer(&read_request(9), 200, None, body.as_bytes());
        assert!(!result.is_error, "the largest answer is served");
        let rendered = result.render();
        assert!(
            rendered.text.len() < MAX_ANSWER_BYTES,
            "too large to pretty-print: compact"
        );
        assert!(!rendered.text.contains('\n'));
        assert_eq!(rendered.structured, None, "no room for a second copy");

        let small = answer(&read_request(9), &recorded("completed", 9)).render();
        assert!(small.text.contains('\n') && small.structured.is_some());

        // Quotes double when the text is embedded in the JSON-RPC line.
        let quotes = vec![r#""\"""#; room / 5].join(",");
        let body = format!(r#"{envelope},"output":[{quotes}]}}"#);
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let result = from_answer(&read_request(9), 200, None, body.as_bytes());
        assert_eq!(result.value["code"], "gateway_response_too_large");
    }

    #[test]
    fn failures_before_dispatch_are_plain_errors() {
        let result = from_failure(&call_request(), &Failure::NotDispatched { denied: false });
        assert!(result.is_error);
        assert_eq!(result.value["status"], "error");
        assert!(result.value.get("idempotency_key").is_none());
    }

    #[test]
    fn timeouts_name_the_deadline() {
        let read = from_failure(&list_request(), &Failure::Timeout { ms: 100 });
        assert_eq!(
            read.value["error"],
            "AIPermission API request timed out after 100ms"
        );
        let call = from_failure(&call_request(), &Failure::Timeout { ms: 100 });
        assert_eq!(call.value["status"], "outcome_unknown");
    }

    #[test]
    fn contract_failures_depend_on_the_tool_kind() {
        let read = from_answer(&list_request(), 200, None, b"{}");
        assert_eq!(read.value["code"], "gateway_response_contract_invalid");
        let call = from_answer(&call_request(), 200, None, b"[]");
        assert_eq!(
            call.value["code"],
            "gateway_response_contract_outcome_unknown"
        );
        assert_eq!(call.value["idempotency_key"], "k-7");
    }

    #[test]
    fn interruptions_after_dispatch_leave_mutations_unknown() {
        let req = call_request();
        let unknown = from_interruption(Some(&req), Interruption::Deadline, true);
        assert_eq!(unknown.value["status"], "outcome_unknown");
        assert_eq!(unknown.value["idempotency_key"], "k-7");
        let plain = from_interruption(Some(&req), Interruption::Memory, false);
        assert_eq!(plain.value["status"], "error");
        assert!(plain.value["error"].as_str().unwrap().contains("memory"));
    }
}
