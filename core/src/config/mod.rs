//! Client configuration without I/O: the client registry, the server entry
//! that launches this bridge, and the renderers that put it into a client's
//! existing config text (strict JSON, JSONC, TOML) without disturbing
//! anything else. The host reads and writes the files; this module only
//! turns text into text, so it runs in the component and under the fuzzer.

pub mod inspect;
pub mod json;
pub mod jsonc;
pub mod registry;
pub mod skill;
pub mod toml;

pub use registry::{Client, Format, Location, McpTarget, Scope};
use serde_json::{Map, Value};

/// The name clients show for the bridge unless `--name` says otherwise.
pub const DEFAULT_SERVER_NAME: &str = "aipermission";

/// What previews show instead of a real token.
pub const TOKEN_PLACEHOLDER: &str = "YOUR_TOKEN_HERE";

/// The arguments every entry passes to the bridge.
pub const SERVE_ARGS: [&str; 1] = ["serve"];

/// The server entry that launches this bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    /// Absolute path of the `aipermission-mcp` executable.
    pub command: String,
    /// The gateway URL after the loopback rule.
    pub api_url: String,
    /// The bearer token, or [`TOKEN_PLACEHOLDER`] in previews.
    pub token: String,
}

impl ServerEntry {
    /// The entry as the JSON object clients read, with the client's extra
    /// fields after `command`, `args` and `env`.
    pub fn to_json(&self, extra_fields: &[(&str, &str)]) -> Value {
        let mut entry = Map::new();
        entry.insert("command".into(), self.command.clone().into());
        entry.insert("args".into(), SERVE_ARGS.to_vec().into());
        let mut env = Map::new();
        env.insert("AIPERMISSION_API_URL".into(), self.api_url.clone().into());
        env.insert("AIPERMISSION_API_TOKEN".into(), self.token.clone().into());
        entry.insert("env".into(), Value::Object(env));
        for (name, value) in extra_fields {
            let value = serde_json::from_str(value).expect("registry extra fields are JSON");
            entry.insert((*name).to_owned(), value);
        }
        Value::Object(entry)
    }
}

/// Why a config could not be rendered. The messages never quote the
/// file's content, which may hold another server's secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// Sanitises a server name as the Node bridge does: trimmed, every run of
/// characters outside `[A-Za-z0-9_.-]` becomes `-`, and `-` is stripped
/// from both ends. Empty and prototype-like names are refused.
pub fn server_name(raw: &str) -> Result<String, String> {
    let mut name = String::new();
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-');
    if name.is_empty() {
        return Err("MCP server name is required.".to_owned());
    }
    let reserved = ["__proto__", "prototype", "constructor"];
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err("MCP server name is reserved.".to_owned());
    }
    Ok(name.to_owned())
}

/// Puts the entry under `<root key>.<name>` in `existing` (empty text is an
/// empty config) and returns the new text. Everything else in the file is
/// kept: other servers, other settings and, for JSONC and TOML, comments
/// and layout.
pub fn render(
    format: Format,
    root_key: &str,
    existing: &str,
    name: &str,
    entry: &Value,
) -> Result<String, RenderError> {
    match format {
        Format::Json => json::render(existing, root_key, name, entry),
        Format::Jsonc => jsonc::render(existing, root_key, name, entry),
        Format::Toml => toml::render(existing, root_key, name, entry),
    }
}

/// The snippet `--print` shows for a client: its format and root key,
/// with the placeholder instead of a token.
pub fn preview(client: &Client, name: &str, command: &str, api_url: &str) -> String {
    let entry = ServerEntry {
        command: command.to_owned(),
        api_url: api_url.to_owned(),
        token: TOKEN_PLACEHOLDER.to_owned(),
    };
    let extra = client.mcp.map(|m| m.extra_fields).unwrap_or_default();
    let (format, root_key) = client.print_format();
    let format = match format {
        Format::Jsonc => Format::Json,
        other => other,
    };
    render(format, root_key, "", name, &entry.to_json(extra))
        .expect("an empty config always renders")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_sanitised_like_the_node_bridge() {
        assert_eq!(
            server_name(" aipermission default! ").unwrap(),
            "aipermission-default"
        );
        assert_eq!(server_name("my.server_1").unwrap(), "my.server_1");
        assert_eq!(server_name("a  b").unwrap(), "a-b");
        assert_eq!(server_name("--x--").unwrap(), "x");
        assert_eq!(
            server_name(" !! ").unwrap_err(),
            "MCP server name is required."
        );
        for reserved in ["__proto__", "Prototype", "CONSTRUCTOR"] {
            assert_eq!(
                server_name(reserved).unwrap_err(),
                "MCP server name is reserved."
            );
        }
    }

    #[test]
    fn previews_use_the_placeholder_and_each_clients_root_key() {
        let vscode = registry::find("vscode").unwrap();
        let text = preview(vscode, "aipermission", "/bin/x", "http://localhost:3210");
        let value: Value = serde_json::from_str(&text).unwrap();
        let env = &value["servers"]["aipermission"]["env"];
        assert_eq!(env["AIPERMISSION_API_TOKEN"], TOKEN_PLACEHOLDER);

        let custom = registry::find("custom").unwrap();
        let text = preview(custom, "aipermission", "/bin/x", "http://localhost:3210");
        assert!(text.contains("\"mcpServers\""));

        let grok = registry::find("grok").unwrap();
        let text = preview(grok, "my.server", "/bin/x", "http://localhost:3210");
        assert!(text.contains("[mcp_servers.\"my.server\"]"), "{text}");
        assert!(text.contains("startup_timeout_sec = 60"), "{text}");
        assert!(text.contains(TOKEN_PLACEHOLDER));
    }
}
