//! Argument checks: never panic on any JSON; what they accept becomes one
//! well-formed gateway request.
#![no_main]

use aipermission_core::args::prepare;
use aipermission_core::catalog::ALL;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let tool = ALL[usize::from(selector) % ALL.len()];
    let Ok(arguments) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    if let Ok(request) = prepare(tool, &arguments) {
        assert!(request.path.starts_with("/api/mcp/"));
        assert!(!request.path.contains(char::is_whitespace));
        assert_eq!(request.is_mutation(), tool.is_mutation());
        if let Some(body) = &request.body {
            let parsed: Value = serde_json::from_str(body).expect("the body is JSON");
            assert!(parsed.is_object());
        }
        if let Some(key) = &request.idempotency_key {
            assert!(!key.is_empty() && key.len() <= 128);
        }
    }
});
