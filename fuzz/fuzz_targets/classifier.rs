//! Shaping gateway answers: never panics on any status, Retry-After or
//! body; every result fits in one MCP message, is valid JSON, and marks a
//! lost or broken answer to a mutation as outcome_unknown, never as a
//! plain error.
#![no_main]

use aipermission_core::args::prepare;
use aipermission_core::catalog::ToolName;
use aipermission_core::outcome::{MAX_ANSWER_BYTES, from_answer};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let [a, b, c, rest @ ..] = data else {
        return;
    };
    let status = 100 + u16::from_le_bytes([*a, *b]) % 500;
    let (tool, arguments) = match c % 3 {
        0 => (ToolName::ListConnectorTargets, json!({})),
        1 => (
            ToolName::GetConnectorActionRequest,
            json!({"request_id": 7}),
        ),
        _ => (
            ToolName::CallConnectorAction,
            json!({"target_ref": "ssh:4:2", "action_name": "exec", "idempotency_key": "k"}),
        ),
    };
    let request = prepare(tool, &arguments).expect("fixed arguments are valid");
    let retry_after = (c & 4 != 0).then_some("60");

    let result = from_answer(&request, status, retry_after, rest);
    let rendered = result.render();
    assert!(rendered.text.len() <= MAX_ANSWER_BYTES);
    let text: Value = serde_json::from_str(&rendered.text).expect("the text is JSON");
    if let Some(structured) = &rendered.structured {
        let structured: Value = serde_json::from_str(structured).expect("structured is JSON");
        assert!(structured.is_object());
    }
    let broken = (200..300).contains(&status) && serde_json::from_slice::<Value>(rest).is_err();
    if broken && request.is_mutation() {
        assert_eq!(text["status"], "outcome_unknown");
        assert_eq!(text["idempotency_key"], "k");
    }
});
