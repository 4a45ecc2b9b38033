//! The `doctor` check of a config's text: it parses as the client would,
//! holds the named server entry, and the entry launches this bridge with a
//! usable URL and token. File checks (path, permissions, git, whether the
//! command exists) are the host's.

use serde_json::Value;

use super::registry::{Format, McpTarget};
use super::{SERVE_ARGS, json, jsonc, toml};
use crate::origin;

/// The parts of a good entry the host checks further. Holds the token so
/// `doctor --live` can use it; never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct FoundEntry {
    pub command: String,
    /// The URL after the loopback rule.
    pub api_url: String,
    pub token: String,
}

impl std::fmt::Debug for FoundEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoundEntry")
            .field("command", &self.command)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Checks the server `name` in a config's text. The error is one line for
/// the report and never holds file content.
pub fn inspect(target: &McpTarget, text: &str, name: &str) -> Result<FoundEntry, String> {
    let root = match target.format {
        Format::Json => json::parse(text).map_err(|_| parse_failed("JSON"))?,
        Format::Jsonc => jsonc::parse(text).map_err(|_| parse_failed("JSON"))?,
        Format::Toml => {
            let doc = toml::parse(text).map_err(|_| parse_failed("TOML"))?;
            toml::to_json(doc.as_item())
        }
    };
    let entry = root
        .get(target.root_key)
        .and_then(|servers| servers.get(name))
        .and_then(Value::as_object)
        .ok_or_else(|| format!("no \"{name}\" server under {}", target.root_key))?;

    let command = entry
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or("the entry has no command")?;
    let args = entry.get("args").and_then(Value::as_array);
    let args_ok = args.is_some_and(|a| a.iter().map(Value::as_str).eq(SERVE_ARGS.map(Some)));
    if !args_ok {
        return Err("the entry must have the exact command arguments [\"serve\"]".to_owned());
    }
    for (field, expected) in target.extra_fields {
        let expected: Value = serde_json::from_str(expected).expect("registry JSON");
        if entry.get(*field) != Some(&expected) {
            return Err(format!("invalid {field} field (expected {expected})"));
        }
    }
    let env = entry.get("env").and_then(Value::as_object);
    let var = |name: &str| env.and_then(|e| e.get(name)).and_then(Value::as_str);
    let token = var("AIPERMISSION_API_TOKEN")
        .filter(|t| !t.trim().is_empty())
        .ok_or("env.AIPERMISSION_API_TOKEN is missing or empty")?;
    let url = origin::parse_gateway_url(var("AIPERMISSION_API_URL"))
        .map_err(|err| format!("env.AIPERMISSION_API_URL is refused: {err}"))?;
    Ok(FoundEntry {
        command: command.to_owned(),
        api_url: url.as_str().to_owned(),
        token: token.to_owned(),
    })
}

fn parse_failed(kind: &str) -> String {
    format!("{kind} parsing failed; no file contents were included in this diagnostic")
}

#[cfg(test)]
mod tests {
    use super::super::{ServerEntry, registry, render};
    use super::*;

    fn written(client: &str, name: &str) -> (McpTarget, String) {
        let target = registry::find(client).unwrap().mcp.unwrap();
        let entry = ServerEntry {
            command: "/opt/aipermission-mcp".into(),
            api_url: "http://127.0.0.1:3210".into(),
            token: "CANARY".into(),
        };
        let text = render(
            target.format,
            target.root_key,
            "",
            name,
            &entry.to_json(target.extra_fields),
        )
        .unwrap();
        (target, text)
    }

    #[test]
    fn what_init_writes_passes_for_every_format() {
        for client in ["codex", "cursor", "vscode", "copilot", "grok"] {
            let (target, text) = written(client, "main");
            let found = inspect(&target, &text, "main").unwrap();
            assert_eq!(found.command, "/opt/aipermission-mcp");
            assert_eq!(found.api_url, "http://127.0.0.1:3210");
            assert!(!format!("{found:?}").contains("CANARY"));
        }
    }

    #[test]
    fn a_wrong_entry_names_what_is_wrong() {
        let (target, text) = written("copilot", "aipermission");
        let no_tools = text.replace("\"tools\"", "\"tool\"");
        let err = inspect(&target, &no_tools, "aipermission").unwrap_err();
        assert!(err.starts_with("invalid tools field"), "{err}");
        let decoy = text.replace("\"serve\"", "\"other\", \"serve\"");
        let err = inspect(&target, &decoy, "aipermission").unwrap_err();
        assert!(err.contains("exact command arguments"), "{err}");
        let err = inspect(&target, &text, "missing").unwrap_err();
        assert!(err.contains("no \"missing\" server"), "{err}");
        let remote = text.replace("127.0.0.1", "example.com");
        assert!(inspect(&target, &remote, "aipermission").is_err());
    }

    #[test]
    fn parse_failures_do_not_quote_the_file() {
        let target = registry::find("cursor").unwrap().mcp.unwrap();
        let err = inspect(&target, "// c\n{\"CANARY\": 1}", "a").unwrap_err();
        assert_eq!(
            err,
            "JSON parsing failed; no file contents were included in this diagnostic"
        );
        let vscode = registry::find("vscode").unwrap().mcp.unwrap();
        assert!(inspect(&vscode, "{\"servers\": {\"a\": bare}}", "a").is_err());
        assert!(inspect(&vscode, "/* open", "a").is_err());
        let codex = registry::find("codex").unwrap().mcp.unwrap();
        let err = inspect(&codex, "x = [CANARY", "a").unwrap_err();
        assert!(err.starts_with("TOML parsing failed"));
    }

    #[test]
    fn comments_and_trailing_commas_are_fine_for_vscode() {
        let (target, text) = written("vscode", "aipermission");
        let commented = format!("// hi\n{}", text.replacen("\"serve\"", "\"serve\",", 1));
        assert!(inspect(&target, &commented, "aipermission").is_ok());
    }
}
