//! The clients the bridge can configure: where each one reads its MCP
//! servers and its skills, in which format, and which extra fields its
//! server entries need. Paths are relative to the user's home (user scope)
//! or to the project directory (project scope); the host resolves them.

/// The two places a client reads configuration from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The user's home directory (or a client's home variable).
    User,
    /// The project directory, by default the working directory.
    Project,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }

    /// Reads `user` or `project`, trimmed and in any case.
    pub fn parse(raw: &str) -> Result<Scope, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Scope::User),
            "project" => Ok(Scope::Project),
            _ => Err(format!(
                "Unknown scope: {}. Use user or project.",
                raw.trim()
            )),
        }
    }
}

/// How a client's MCP config file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Strict JSON, rewritten with two-space indentation.
    Json,
    /// JSON with comments and trailing commas, edited in place.
    Jsonc,
    /// TOML, edited in place.
    Toml,
}

/// One file location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Path relative to the home or project directory, `/`-separated.
    pub path: &'static str,
    /// For user scope: a variable naming the client's own home directory,
    /// which replaces the home-relative directory when it is set (and
    /// `--home` was not given).
    pub home_var: Option<&'static str>,
    /// Path relative to that variable's directory.
    pub under_var: &'static str,
}

const fn at(path: &'static str) -> Location {
    Location {
        path,
        home_var: None,
        under_var: "",
    }
}

const fn at_or(path: &'static str, var: &'static str, under_var: &'static str) -> Location {
    Location {
        path,
        home_var: Some(var),
        under_var,
    }
}

/// Where and how a client reads MCP servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct McpTarget {
    pub format: Format,
    /// The object that holds the servers: `mcpServers`, `servers` or
    /// `mcp_servers`.
    pub root_key: &'static str,
    /// None when the client has no user-scope file (VS Code keeps user
    /// servers in its profile; `--print` still shows the entry).
    pub user: Option<Location>,
    /// None when the client has no project-scope file.
    pub project: Option<Location>,
    pub default_scope: Scope,
    /// Fields the client needs beside `command`, `args` and `env`, as
    /// name and JSON value.
    pub extra_fields: &'static [(&'static str, &'static str)],
}

/// Where a client reads skills: `<dir>/aipermission-operator/SKILL.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkillTarget {
    pub user: Location,
    pub project: Location,
    pub default_scope: Scope,
}

/// One client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// Stable id used by `--provider` and `--client`.
    pub id: &'static str,
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    /// None for clients without an MCP config file (`agents`, `custom`).
    pub mcp: Option<McpTarget>,
    /// None for `custom`, whose skill goes to stdout.
    pub skill: Option<SkillTarget>,
}

const fn json(user: Option<Location>, project: Option<Location>, scope: Scope) -> McpTarget {
    McpTarget {
        format: Format::Json,
        root_key: "mcpServers",
        user,
        project,
        default_scope: scope,
        extra_fields: &[],
    }
}

const fn skills(user: Location, project: &'static str, scope: Scope) -> Option<SkillTarget> {
    Some(SkillTarget {
        user,
        project: at(project),
        default_scope: scope,
    })
}

use Scope::{Project, User};

/// Every client, in the order the interactive menu shows them (`agents`,
/// which has no MCP config, last but one).
pub const CLIENTS: [Client; 12] = [
    Client {
        id: "codex",
        label: "OpenAI Codex",
        aliases: &[],
        mcp: Some(McpTarget {
            format: Format::Toml,
            root_key: "mcp_servers",
            user: Some(at_or(".codex/config.toml", "CODEX_HOME", "config.toml")),
            project: Some(at(".codex/config.toml")),
            default_scope: User,
            extra_fields: &[],
        }),
        skill: skills(at(".agents/skills"), ".agents/skills", User),
    },
    Client {
        id: "claude-code",
        label: "Claude Code",
        aliases: &["claude", "claude_code"],
        mcp: Some(json(
            Some(at(".claude.json")),
            Some(at(".mcp.json")),
            Project,
        )),
        skill: skills(
            at_or(".claude/skills", "CLAUDE_CONFIG_DIR", "skills"),
            ".claude/skills",
            Project,
        ),
    },
    Client {
        id: "cursor",
        label: "Cursor",
        aliases: &[],
        mcp: Some(json(
            Some(at(".cursor/mcp.json")),
            Some(at(".cursor/mcp.json")),
            Project,
        )),
        skill: skills(at(".cursor/skills"), ".cursor/skills", Project),
    },
    Client {
        id: "vscode",
        label: "VS Code",
        aliases: &["vs-code"],
        mcp: Some(McpTarget {
            format: Format::Jsonc,
            root_key: "servers",
            user: None,
            project: Some(at(".vscode/mcp.json")),
            default_scope: Project,
            extra_fields: &[],
        }),
        skill: skills(at(".copilot/skills"), ".github/skills", Project),
    },
    Client {
        id: "copilot",
        label: "GitHub Copilot CLI",
        aliases: &["copilot-cli", "github-copilot"],
        mcp: Some(McpTarget {
            extra_fields: &[("type", "\"local\""), ("tools", "[\"*\"]")],
            ..json(
                Some(at_or(
                    ".copilot/mcp-config.json",
                    "COPILOT_HOME",
                    "mcp-config.json",
                )),
                Some(at(".mcp.json")),
                User,
            )
        }),
        skill: skills(
            at_or(".copilot/skills", "COPILOT_HOME", "skills"),
            ".github/skills",
            User,
        ),
    },
    Client {
        id: "windsurf",
        label: "Windsurf Cascade (legacy)",
        aliases: &["windsurf-legacy", "cascade"],
        mcp: Some(json(
            Some(at(".codeium/windsurf/mcp_config.json")),
            None,
            User,
        )),
        skill: skills(at(".codeium/windsurf/skills"), ".windsurf/skills", User),
    },
    Client {
        id: "antigravity",
        label: "Google Antigravity IDE",
        aliases: &["google-antigravity"],
        mcp: Some(json(
            Some(at(".gemini/config/mcp_config.json")),
            Some(at(".agents/mcp_config.json")),
            User,
        )),
        skill: skills(at(".gemini/config/skills"), ".agents/skills", User),
    },
    Client {
        id: "antigravity-cli",
        label: "Google Antigravity CLI",
        aliases: &["agy"],
        mcp: Some(json(
            Some(at(".gemini/antigravity-cli/mcp_config.json")),
            Some(at(".agents/mcp_config.json")),
            User,
        )),
        skill: skills(at(".gemini/antigravity-cli/skills"), ".agents/skills", User),
    },
    Client {
        id: "gemini",
        label: "Gemini CLI",
        aliases: &["gemini-cli"],
        mcp: Some(json(
            Some(at_or(
                ".gemini/settings.json",
                "GEMINI_CLI_HOME",
                "settings.json",
            )),
            Some(at(".gemini/settings.json")),
            User,
        )),
        skill: skills(
            at_or(".gemini/skills", "GEMINI_CLI_HOME", "skills"),
            ".gemini/skills",
            User,
        ),
    },
    Client {
        id: "grok",
        label: "Grok Build CLI",
        aliases: &["grok-build", "grok-cli"],
        mcp: Some(McpTarget {
            format: Format::Toml,
            root_key: "mcp_servers",
            user: Some(at_or(".grok/config.toml", "GROK_HOME", "config.toml")),
            project: Some(at(".grok/config.toml")),
            default_scope: User,
            extra_fields: &[("startup_timeout_sec", "60")],
        }),
        skill: skills(
            at_or(".grok/skills", "GROK_HOME", "skills"),
            ".grok/skills",
            User,
        ),
    },
    Client {
        id: "agents",
        label: "Agents standard",
        aliases: &["agents-standard"],
        mcp: None,
        skill: skills(at(".agents/skills"), ".agents/skills", Project),
    },
    Client {
        id: "custom",
        label: "Custom / copy-paste",
        aliases: &[],
        mcp: None,
        skill: None,
    },
];

/// Finds a client by id, label or alias, trimmed and in any case.
pub fn find(query: &str) -> Option<&'static Client> {
    let query = query.trim();
    CLIENTS.iter().find(|client| {
        client.id.eq_ignore_ascii_case(query)
            || client.label.eq_ignore_ascii_case(query)
            || client.aliases.iter().any(|a| a.eq_ignore_ascii_case(query))
    })
}

/// The clients `init` offers, in menu order (everything with an MCP
/// config, then `custom`).
pub fn providers() -> impl Iterator<Item = &'static Client> {
    CLIENTS
        .iter()
        .filter(|client| client.mcp.is_some() || client.id == "custom")
}

impl Client {
    /// The MCP config location for a scope, or the message that says why
    /// there is none.
    pub fn mcp_location(&self, scope: Scope) -> Result<(McpTarget, Location), String> {
        let Some(target) = self.mcp else {
            return Err(format!(
                "{} does not have an automatic MCP config target.",
                self.label
            ));
        };
        let location = match scope {
            Scope::User => target.user,
            Scope::Project => target.project,
        };
        location.map(|l| (target, l)).ok_or_else(|| {
            let supported: Vec<&str> = [(target.user, User), (target.project, Project)]
                .iter()
                .filter(|(l, _)| l.is_some())
                .map(|(_, s)| s.as_str())
                .collect();
            format!(
                "{} does not support {} MCP config scope. Supported scopes: {}.",
                self.label,
                scope.as_str(),
                supported.join(", ")
            )
        })
    }

    /// The format and root key `--print` uses: the client's own, or
    /// strict JSON with `mcpServers` for `custom`.
    pub fn print_format(&self) -> (Format, &'static str) {
        match self.mcp {
            Some(target) => (target.format, target.root_key),
            None => (Format::Json, "mcpServers"),
        }
    }

    /// The menu's one-line description.
    pub fn summary(&self) -> String {
        let Some(target) = self.mcp else {
            return "Prints config snippets only".to_owned();
        };
        let location = match target.default_scope {
            Scope::User => target.user.map(|l| format!("~/{}", l.path)),
            Scope::Project => target.project.map(|l| format!("./{}", l.path)),
        };
        format!(
            "Writes {} ({})",
            location.unwrap_or_default(),
            target.default_scope.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_lists_the_providers_in_the_reference_order() {
        let ids: Vec<&str> = providers().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                "codex",
                "claude-code",
                "cursor",
                "vscode",
                "copilot",
                "windsurf",
                "antigravity",
                "antigravity-cli",
                "gemini",
                "grok",
                "custom"
            ]
        );
    }

    #[test]
    fn clients_are_found_by_id_label_or_alias_in_any_case() {
        assert_eq!(find(" CLAUDE ").unwrap().id, "claude-code");
        assert_eq!(find("claude_code").unwrap().id, "claude-code");
        assert_eq!(find("GitHub Copilot CLI").unwrap().id, "copilot");
        assert_eq!(find("agy").unwrap().id, "antigravity-cli");
        assert_eq!(find("vs-code").unwrap().id, "vscode");
        assert!(find("emacs").is_none());
    }

    #[test]
    fn unsupported_scopes_name_the_supported_ones() {
        let vscode = find("vscode").unwrap();
        let err = vscode.mcp_location(Scope::User).unwrap_err();
        assert!(err.ends_with("Supported scopes: project."), "{err}");
        let windsurf = find("windsurf").unwrap();
        let err = windsurf.mcp_location(Scope::Project).unwrap_err();
        assert!(err.ends_with("Supported scopes: user."), "{err}");
        let err = find("custom")
            .unwrap()
            .mcp_location(Scope::User)
            .unwrap_err();
        assert!(err.contains("does not have an automatic MCP config target"));
    }

    #[test]
    fn scopes_parse_in_any_case_and_refuse_other_words() {
        assert_eq!(Scope::parse("USER"), Ok(Scope::User));
        assert_eq!(
            Scope::parse("local").unwrap_err(),
            "Unknown scope: local. Use user or project."
        );
    }

    #[test]
    fn extra_fields_are_valid_json() {
        for client in &CLIENTS {
            for (_, value) in client.mcp.map(|m| m.extra_fields).unwrap_or_default() {
                serde_json::from_str::<serde_json::Value>(value).unwrap();
            }
        }
    }
}
