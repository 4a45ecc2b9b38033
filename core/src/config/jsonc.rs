//! JSONC configs (VS Code's `.vscode/mcp.json`): edited in place through
//! a concrete syntax tree, so comments, trailing commas, indentation and
//! line endings stay as the user wrote them. Only the one server entry is
//! inserted or replaced, and the result is parsed again to prove it.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstRootNode};
use serde_json::Value;

use super::RenderError;

/// What VS Code accepts: JSON plus comments and trailing commas.
pub fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Sets `<root_key>.<name>` to `entry`. A new server goes first inside the
/// servers object; a missing servers object is added without moving the
/// comments around it.
pub fn render(
    existing: &str,
    root_key: &str,
    name: &str,
    entry: &Value,
) -> Result<String, RenderError> {
    let text = if existing.trim().is_empty() {
        "{}\n"
    } else {
        existing
    };
    let root = CstRootNode::parse(text, &options()).map_err(|err| {
        let (line, column) = (err.line_display(), err.column_display());
        RenderError(format!(
            "Could not parse VS Code JSONC config (line {line}, column {column}); the \
             existing file was left unchanged"
        ))
    })?;
    let Some(object) = root.object_value() else {
        return Err(unsafe_update("its root is not an object"));
    };
    let servers = match object.get(root_key) {
        None => object.insert(0, root_key, CstInputValue::Object(Vec::new())),
        Some(prop) => prop,
    };
    let Some(servers) = servers.object_value() else {
        return Err(RenderError(format!(
            "VS Code MCP {root_key} must be an object; the existing file was left unchanged"
        )));
    };
    match servers.get(name) {
        Some(prop) => prop.set_value(to_input(entry)),
        None => {
            servers.insert(0, name, to_input(entry));
        }
    }
    let rendered = root.to_string();

    // Read the result back as VS Code would, and make sure it says what we
    // meant; a tree edit that went wrong must not reach the disk.
    let check = CstRootNode::parse(&rendered, &options())
        .ok()
        .and_then(|root| root.to_serde_value());
    match check.as_ref().and_then(|v| v.get(root_key)?.get(name)) {
        Some(written) if written == entry => Ok(rendered),
        _ => Err(unsafe_update(
            "the edited text did not read back as intended",
        )),
    }
}

/// Parses a JSONC config into a value; blank text is `{}`.
pub fn parse(text: &str) -> Result<Value, RenderError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let root = CstRootNode::parse(text, &options()).map_err(|err| {
        RenderError(format!(
            "Could not parse VS Code JSONC config (line {}, column {})",
            err.line_display(),
            err.column_display()
        ))
    })?;
    root.to_serde_value()
        .ok_or_else(|| RenderError("Could not parse VS Code JSONC config (no value)".into()))
}

fn unsafe_update(why: &str) -> RenderError {
    RenderError(format!(
        "Could not safely update VS Code JSONC config; {why}. The existing file was left \
         unchanged"
    ))
}

fn to_input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry() -> Value {
        json!({"command": "/bin/aipermission-mcp", "args": ["serve"],
               "env": {"AIPERMISSION_API_TOKEN": "tok\"en"}})
    }

    #[test]
    fn comments_trailing_commas_and_other_servers_are_kept() {
        let existing = "// my servers\n{\n  \"servers\": {\n    // keep me\n    \
                        \"other\": {\"command\": \"x\"},\n  },\n  \"inputs\": [],\n}\n";
        let text = render(existing, "servers", "aipermission", &entry()).unwrap();
        assert!(text.starts_with("// my servers\n{"), "{text}");
        assert!(text.contains("// keep me"), "{text}");
        assert!(text.contains("\"inputs\": [],\n}"), "{text}");
        let value = parse(&text).unwrap();
        assert_eq!(value["servers"]["aipermission"], entry());
        assert_eq!(value["servers"]["other"], json!({"command": "x"}));
        let keys: Vec<&String> = value["servers"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["aipermission", "other"], "a new server goes first");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let existing = "{\r\n  // c\r\n  \"servers\": {}\r\n}\r\n";
        let text = render(existing, "servers", "a", &entry()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
        assert_eq!(parse(&text).unwrap()["servers"]["a"], entry());
    }

    #[test]
    fn a_missing_servers_object_is_added_and_root_comments_stay() {
        let existing = "{\n  // about inputs\n  \"inputs\": []\n}\n";
        let text = render(existing, "servers", "a", &entry()).unwrap();
        assert!(text.contains("// about inputs\n  \"inputs\": []"), "{text}");
        assert_eq!(parse(&text).unwrap()["servers"]["a"], entry());
        let text = render("", "servers", "a", &entry()).unwrap();
        assert_eq!(parse(&text).unwrap()["servers"]["a"], entry());
    }

    #[test]
    fn an_existing_entry_is_replaced_and_prototype_names_are_data() {
        let existing = r#"{"servers": {"__proto__": {"x": 1}, "a": {"old": true}}}"#;
        let text = render(existing, "servers", "a", &entry()).unwrap();
        let value = parse(&text).unwrap();
        assert_eq!(value["servers"]["a"], entry());
        assert_eq!(value["servers"]["__proto__"], json!({"x": 1}));
    }

    #[test]
    fn broken_or_odd_files_are_refused_without_quoting_them() {
        let err = render("{\"servers\": {\"a\": SECRET}}", "servers", "a", &entry()).unwrap_err();
        assert!(err.0.starts_with("Could not parse VS Code JSONC"), "{err}");
        assert!(!err.0.contains("SECRET"));
        let err = render("/* open", "servers", "a", &entry()).unwrap_err();
        assert!(err.0.starts_with("Could not parse VS Code JSONC"), "{err}");
        let err = render("{\"servers\": []}", "servers", "a", &entry()).unwrap_err();
        assert!(
            err.0.starts_with("VS Code MCP servers must be an object"),
            "{err}"
        );
        let err = render("[]", "servers", "a", &entry()).unwrap_err();
        assert!(err.0.starts_with("Could not safely update"), "{err}");
    }
}
