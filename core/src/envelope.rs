//! The JSON error envelope every failed tool call carries, with its fields
//! in the order clients of the Node bridge know.

use serde_json::{Map, Value};

/// Statuses a gateway error body may set on the envelope; anything else in
/// a body's `status` is ignored.
pub const LIFTABLE_STATUSES: [&str; 7] = [
    "failed",
    "blocked",
    "stale",
    "declined",
    "canceled",
    "error",
    "outcome_unknown",
];

/// Longest `code` kept from a gateway error body.
const MAX_CODE_CHARS: usize = 128;
/// Longest `assistant_hint` kept from a gateway error body.
const MAX_HINT_CHARS: usize = 2048;
/// Largest retry delay kept, in seconds: an hour.
const MAX_RETRY_AFTER_SECONDS: u64 = 3600;
/// Largest positive integer JSON carries exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A tool error as `{status, code?, request_id?, assistant_hint?,
/// idempotency_key?, retry_after_seconds?, error}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `error` unless the failure carries a more precise status.
    pub status: Option<String>,
    pub code: Option<String>,
    pub request_id: Option<u64>,
    pub assistant_hint: Option<String>,
    pub idempotency_key: Option<String>,
    pub retry_after_seconds: Option<u64>,
    pub error: String,
}

impl Envelope {
    /// A plain error with the given message.
    pub fn error(message: impl Into<String>) -> Envelope {
        Envelope {
            error: message.into(),
            ..Envelope::default()
        }
    }

    /// The envelope as a JSON object, fields in their documented order.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        let status = self.status.as_deref().unwrap_or("error");
        map.insert("status".into(), status.into());
        if let Some(code) = &self.code {
            map.insert("code".into(), code.as_str().into());
        }
        if let Some(id) = self.request_id {
            map.insert("request_id".into(), id.into());
        }
        if let Some(hint) = &self.assistant_hint {
            map.insert("assistant_hint".into(), hint.as_str().into());
        }
        if let Some(key) = &self.idempotency_key {
            map.insert("idempotency_key".into(), key.as_str().into());
        }
        if let Some(seconds) = self.retry_after_seconds {
            map.insert("retry_after_seconds".into(), seconds.into());
        }
        map.insert("error".into(), self.error.as_str().into());
        Value::Object(map)
    }

    /// Lifts the well-formed fields of a gateway error body (non-2xx) into
    /// an envelope. `retry_after` is the response's `Retry-After` header,
    /// used when the body gives no delay of its own.
    pub fn from_gateway_error(
        http_status: u16,
        body: &Value,
        retry_after: Option<&str>,
    ) -> Envelope {
        let field = |name: &str| body.as_object().and_then(|map| map.get(name));
        let text = |name: &str| field(name).and_then(Value::as_str);

        let error = match text("error") {
            Some(message) => message.to_owned(),
            None => format!("AIPermission API request failed with {http_status}"),
        };
        let status = text("status").filter(|s| LIFTABLE_STATUSES.contains(s));
        let code = text("code").filter(|c| c.chars().count() <= MAX_CODE_CHARS);
        let hint =
            text("assistant_hint").filter(|h| !h.is_empty() && h.chars().count() <= MAX_HINT_CHARS);
        let request_id = field("request_id")
            .and_then(Value::as_u64)
            .filter(|id| (1..=MAX_SAFE_INTEGER).contains(id));
        let retry = field("retry_after_seconds")
            .and_then(Value::as_u64)
            .filter(|s| *s <= MAX_RETRY_AFTER_SECONDS)
            .or_else(|| retry_after.and_then(parse_retry_after));

        Envelope {
            status: status.map(str::to_owned),
            code: code.map(str::to_owned),
            request_id,
            assistant_hint: hint.map(str::to_owned),
            idempotency_key: None,
            retry_after_seconds: retry,
            error,
        }
    }
}

/// A `Retry-After` header in its delay-seconds form: 1 to 4 ASCII digits,
/// at most an hour. The HTTP-date form is ignored.
pub fn parse_retry_after(header: &str) -> Option<u64> {
    let header = header.trim();
    let digits = (1..=4).contains(&header.len()) && header.bytes().all(|b| b.is_ascii_digit());
    let seconds = if digits {
        header.parse().ok()?
    } else {
        return None;
    };
    (seconds <= MAX_RETRY_AFTER_SECONDS).then_some(seconds)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_field_order_and_omits_absent_fields() {
        let envelope = Envelope {
            status: Some("outcome_unknown".into()),
            code: Some("c".into()),
            idempotency_key: Some("k".into()),
            error: "e".into(),
            ..Envelope::default()
        };
        let text = envelope.to_value().to_string();
        assert_eq!(
            text,
            r#"{"status":"outcome_unknown","code":"c","idempotency_key":"k","error":"e"}"#
        );
        assert_eq!(
            Envelope::error("x").to_value(),
            json!({"status": "error", "error": "x"})
        );
    }

    #[test]
    fn lifts_a_409_body_exactly() {
        let body = json!({
            "error": "lost", "code": "connector_action_persistence_unknown",
            "status": "outcome_unknown", "request_id": 12,
            "assistant_hint": "inspect first", "retry_after_seconds": 3
        });
        let envelope = Envelope::from_gateway_error(409, &body, None);
        assert_eq!(
            envelope.to_value(),
            json!({"status": "outcome_unknown", "code": "connector_action_persistence_unknown",
                   "request_id": 12, "assistant_hint": "inspect first",
                   "retry_after_seconds": 3, "error": "lost"})
        );
    }

    #[test]
    fn takes_retry_after_from_the_header_when_the_body_has_none() {
        let body = json!({"error": "busy", "code": "connector_action_backpressure"});
        let envelope = Envelope::from_gateway_error(429, &body, Some("60"));
        assert_eq!(
            envelope.to_value(),
            json!({"status": "error", "code": "connector_action_backpressure",
                   "retry_after_seconds": 60, "error": "busy"})
        );
    }

    #[test]
    fn drops_malformed_fields() {
        let body = json!({
            "status": "invented", "code": "x".repeat(129), "request_id": -4,
            "assistant_hint": "", "retry_after_seconds": 3601
        });
        let envelope =
            Envelope::from_gateway_error(503, &body, Some("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(
            envelope.to_value(),
            json!({"status": "error", "error": "AIPermission API request failed with 503"})
        );
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after("0"), Some(0));
        assert_eq!(parse_retry_after("3600"), Some(3600));
        assert_eq!(parse_retry_after("3601"), None);
        assert_eq!(parse_retry_after("12345"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
    }
}
