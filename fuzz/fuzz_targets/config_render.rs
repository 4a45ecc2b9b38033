//! The config renderers (strict JSON, JSONC, TOML) on any existing file:
//! never panic; when they write, the result parses, holds exactly our
//! entry (and `doctor`'s check accepts it), leaves every other value as it
//! was, and rendering it again changes nothing (for JSONC: nothing a
//! client reads).
#![no_main]

use aipermission_core::config::{
    Format, ServerEntry, inspect, json, jsonc, registry, render, toml,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The file as a value, or None when it does not parse.
fn read(format: Format, text: &str) -> Option<Value> {
    match format {
        Format::Json => json::parse(text).ok(),
        Format::Jsonc => jsonc::parse(text).ok(),
        Format::Toml => toml::parse(text)
            .ok()
            .map(|doc| toml::to_json(doc.as_item())),
    }
}

fn written_again(text: &str) -> Value {
    read(Format::Jsonc, text).expect("what we write parses")
}

/// The value without our server.
fn without(mut value: Value, root_key: &str, name: &str) -> Value {
    if let Some(servers) = value.get_mut(root_key).and_then(Value::as_object_mut) {
        servers.shift_remove(name);
        if servers.is_empty() {
            value
                .as_object_mut()
                .map(|root| root.shift_remove(root_key));
        }
    }
    value
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(existing) = std::str::from_utf8(rest) else {
        return;
    };
    let client = ["cursor", "vscode", "grok"][usize::from(selector % 3)];
    let target = registry::find(client).unwrap().mcp.unwrap();
    let name = ["aipermission", "my.server", "a-b_c"][usize::from(selector / 3 % 3)];
    let entry = ServerEntry {
        command: "/opt/aipermission-mcp".into(),
        api_url: "http://127.0.0.1:3210".into(),
        token: "tok\"en\n".into(),
    };
    let value = entry.to_json(target.extra_fields);
    let Ok(text) = render(target.format, target.root_key, existing, name, &value) else {
        return;
    };

    let written = read(target.format, &text).expect("what we write parses");
    let found = inspect::inspect(&target, &text, name).expect("doctor accepts what init wrote");
    assert_eq!(found.token, entry.token);

    // Everything else is unchanged, when the old file was an object we
    // could read (strict JSON replaces odd roots by design).
    if let Some(before) = read(target.format, existing).filter(Value::is_object) {
        let odd_servers = before.get(target.root_key).is_some_and(|s| !s.is_object());
        if !odd_servers {
            assert_eq!(
                without(written, target.root_key, name),
                without(before, target.root_key, name)
            );
        }
    }

    let again = render(target.format, target.root_key, &text, name, &value).expect("renders again");
    match target.format {
        // The CST editor may re-indent the replaced entry to its
        // surroundings; what a client reads stays the same.
        Format::Jsonc => assert_eq!(read(Format::Jsonc, &again), Some(written_again(&text))),
        _ => assert_eq!(again, text, "a second render changes nothing"),
    }
});
