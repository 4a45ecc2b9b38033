//! Strict JSON configs (every JSON client but VS Code): the file is parsed,
//! the one server entry is set, and the whole document is written back
//! with two-space indentation. Key order is kept.

use serde_json::{Map, Value};

use super::RenderError;

/// Sets `<root_key>.<name>` to `entry` in `existing`. A missing or blank
/// file is `{}`; a root that is not an object, or a root key that does not
/// hold an object, is replaced by an empty object, as the Node bridge does.
pub fn render(
    existing: &str,
    root_key: &str,
    name: &str,
    entry: &Value,
) -> Result<String, RenderError> {
    let mut root = match parse(existing)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let servers = root
        .entry(root_key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !servers.is_object() {
        *servers = Value::Object(Map::new());
    }
    if let Value::Object(servers) = servers {
        servers.insert(name.to_owned(), entry.clone());
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(root))
        .map_err(|_| RenderError("Could not render the JSON config.".to_owned()))?;
    text.push('\n');
    Ok(text)
}

/// Parses a strict JSON config; blank text is `{}`. The error names only
/// the line and column, never the content.
pub fn parse(text: &str) -> Result<Value, RenderError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|err| {
        RenderError(format!(
            "Could not parse JSON config (line {}, column {}); the existing file was left \
             unchanged",
            err.line(),
            err.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn other_servers_and_settings_are_kept_and_the_entry_replaced() {
        let existing = r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"},
            "aipermission": {"command": "old", "stale": true}}}"#;
        let text = render(
            existing,
            "mcpServers",
            "aipermission",
            &json!({"command": "new"}),
        )
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"theme": "dark", "mcpServers": {"other": {"command": "x"},
                "aipermission": {"command": "new"}}})
        );
        assert!(text.ends_with("}\n") && text.contains("\n  \"theme\""));
    }

    #[test]
    fn odd_roots_are_replaced_by_objects_and_prototype_keys_are_data() {
        let text = render("[1]", "mcpServers", "a", &json!(1)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"mcpServers": {"a": 1}})
        );
        let text = render(
            r#"{"mcpServers": [], "__proto__": {"x": 1}}"#,
            "mcpServers",
            "a",
            &json!(1),
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"mcpServers": {"a": 1}, "__proto__": {"x": 1}})
        );
        assert!(render("", "servers", "a", &json!(1)).is_ok());
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let err = render("{\"token\": SECRET_CANARY", "mcpServers", "a", &json!(1)).unwrap_err();
        assert!(!err.0.contains("SECRET"), "{err}");
        assert!(err.0.contains("Could not parse JSON config"));
    }
}
