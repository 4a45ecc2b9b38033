//! The `config` export: the client registry and the config renderers of
//! `aipermission_core::config`, as WIT types. Text in, text out; nothing
//! here reaches the network.

use aipermission_core::config::{self as core, registry};
use aipermission_core::origin;

use crate::exports::aipermission::bridge::config::{
    Client, ExtraField, Format, Guest, Location, McpTarget, Scope, ServerEntry, SkillTarget,
};

impl Guest for crate::Bridge {
    fn clients() -> Vec<Client> {
        registry::CLIENTS.iter().map(client).collect()
    }

    fn find_client(query: String) -> Option<Client> {
        registry::find(&query).map(client)
    }

    fn mcp_location(client_id: String, scope: Scope) -> Result<Location, String> {
        let (_, place) = lookup(&client_id)?.mcp_location(core_scope(scope))?;
        Ok(location(&place))
    }

    fn server_name(raw: String) -> Result<String, String> {
        core::server_name(&raw)
    }

    fn render_config(
        client_id: String,
        existing: String,
        name: String,
        entry: ServerEntry,
    ) -> Result<String, String> {
        let client = lookup(&client_id)?;
        let target = client
            .mcp
            .ok_or_else(|| format!("{} has no MCP config file.", client.label))?;
        let entry = checked_entry(entry)?;
        let value = entry.to_json(target.extra_fields);
        core::render(target.format, target.root_key, &existing, &name, &value)
            .map_err(|err| err.to_string())
    }

    fn preview_config(
        client_id: String,
        name: String,
        command: String,
        api_url: String,
    ) -> Result<String, String> {
        let client = lookup(&client_id)?;
        let url = origin::parse_gateway_url(Some(&api_url)).map_err(|err| err.to_string())?;
        Ok(core::preview(client, &name, &command, url.as_str()))
    }

    fn inspect_config(
        client_id: String,
        text: String,
        name: String,
    ) -> Result<ServerEntry, String> {
        let client = lookup(&client_id)?;
        let target = client
            .mcp
            .ok_or_else(|| format!("{} has no MCP config file.", client.label))?;
        let found = core::inspect::inspect(&target, &text, &name)?;
        Ok(ServerEntry {
            command: found.command,
            api_url: found.api_url,
            token: found.token,
        })
    }

    fn bundled_skill() -> String {
        core::skill::BUNDLED.to_owned()
    }

    fn validate_skill(text: String) -> Result<String, String> {
        core::skill::validate(&text)
    }
}

fn lookup(id: &str) -> Result<&'static registry::Client, String> {
    registry::find(id).ok_or_else(|| format!("Unknown provider: {}", id.trim()))
}

/// The entry with its URL through the loopback rule and a token present.
fn checked_entry(entry: ServerEntry) -> Result<core::ServerEntry, String> {
    let url = origin::parse_gateway_url(Some(&entry.api_url)).map_err(|err| err.to_string())?;
    if entry.token.trim().is_empty() {
        return Err("API token is required.".to_owned());
    }
    Ok(core::ServerEntry {
        command: entry.command,
        api_url: url.as_str().to_owned(),
        token: entry.token,
    })
}

fn client(c: &registry::Client) -> Client {
    Client {
        id: c.id.to_owned(),
        label: c.label.to_owned(),
        aliases: c.aliases.iter().map(|a| (*a).to_owned()).collect(),
        summary: c.summary(),
        mcp: c.mcp.map(|m| McpTarget {
            format: match m.format {
                core::Format::Json => Format::Json,
                core::Format::Jsonc => Format::Jsonc,
                core::Format::Toml => Format::Toml,
            },
            root_key: m.root_key.to_owned(),
            user: m.user.as_ref().map(location),
            project: m.project.as_ref().map(location),
            default_scope: wit_scope(m.default_scope),
            extra_fields: m
                .extra_fields
                .iter()
                .map(|(name, value)| ExtraField {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
        }),
        skill: c.skill.map(|s| SkillTarget {
            user: location(&s.user),
            project: location(&s.project),
            default_scope: wit_scope(s.default_scope),
        }),
    }
}

fn location(l: &core::Location) -> Location {
    Location {
        path: l.path.to_owned(),
        home_variable: l.home_var.map(str::to_owned),
        path_under_variable: l.under_var.to_owned(),
    }
}

fn wit_scope(scope: core::Scope) -> Scope {
    match scope {
        core::Scope::User => Scope::User,
        core::Scope::Project => Scope::Project,
    }
}

fn core_scope(scope: Scope) -> core::Scope {
    match scope {
        Scope::User => core::Scope::User,
        Scope::Project => core::Scope::Project,
    }
}
