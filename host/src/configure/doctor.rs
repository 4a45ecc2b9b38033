//! `doctor`: checks a client's MCP config entry and operator skill, and
//! reports any setup lock left beside them. It reads only: nothing is
//! changed, and neither the token nor file contents are ever printed.
//! `--live` also sends `list_connector_targets` through the sandbox with
//! the configured URL and token.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use aipermission_core::config::DEFAULT_SERVER_NAME;
use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::lock::{self, Inspection};
use super::paths::{Places, SKILL_FILE, scope_name};
use super::private_file::Destination;
use super::{Component, git, parse_scope, this_program};
use crate::cli::DoctorArgs;
use crate::runtime::Runtime;
use crate::runtime::config::{Client, Scope, ServerEntry};
use crate::settings::Settings;

/// Deadline of the `--live` request.
const LIVE_TIMEOUT_MS: &str = "10000";

/// One line of the report.
struct Check {
    label: &'static str,
    outcome: Result<String, String>,
}

/// `aipermission-mcp doctor`.
pub fn run(args: DoctorArgs) -> Result<()> {
    let Some(query) = args.client.as_ref().or(args.provider.as_ref()) else {
        bail!("doctor requires --client.");
    };
    let places = Places::new(args.places.home(), args.places.project_dir())?;
    let mut component = Component::load()?;
    let client = component.find_client(query)?;
    if client.mcp.is_none() && client.skill.is_none() {
        bail!("{} has no files to check.", client.label);
    }
    let name = component.server_name(args.name.as_deref().unwrap_or(DEFAULT_SERVER_NAME))?;
    // A scope for each check the client has; none for what it lacks.
    let pick = |specific: &Option<String>, default: Scope| -> Result<Scope> {
        match specific.as_ref().or(args.scope.as_ref()) {
            Some(raw) => parse_scope(raw),
            None => Ok(default),
        }
    };
    let mcp_scope = match &client.mcp {
        Some(mcp) => Some(pick(&args.mcp_scope, mcp.default_scope)?),
        None => None,
    };
    let skill_scope = match &client.skill {
        Some(skill) => Some(pick(&args.skill_scope, skill.default_scope)?),
        None => None,
    };

    let scopes = match (mcp_scope, skill_scope) {
        (Some(a), Some(b)) if a != b => format!("MCP {}, skill {}", scope_name(a), scope_name(b)),
        (Some(a), _) | (None, Some(a)) => scope_name(a).to_owned(),
        (None, None) => String::new(),
    };
    println!("AIPermission MCP doctor: {} ({scopes})", client.label);

    let mut checks = Vec::new();
    let mut entry = None;
    if let Some(scope) = mcp_scope {
        let dest = component
            .mcp_location(&client, scope)
            .and_then(|location| places.resolve(&location, scope, ""));
        let outcome = match &dest {
            Ok(dest) => {
                check_config(&mut component, &client, dest, scope, &places, &name).map(|found| {
                    entry = Some(found);
                    dest.file.display().to_string()
                })
            }
            Err(err) => Err(format!("{err:#}")),
        };
        checks.push(Check {
            label: "MCP config",
            outcome,
        });
        if let Ok(dest) = &dest {
            checks.extend(lock_check(dest));
        }
    }
    if let (Some(scope), Some(skill)) = (skill_scope, &client.skill) {
        let location = match scope {
            Scope::User => &skill.user,
            Scope::Project => &skill.project,
        };
        let dest = places.resolve(location, scope, SKILL_FILE);
        let outcome = match &dest {
            Ok(dest) => check_skill(&mut component, dest),
            Err(err) => Err(format!("{err:#}")),
        };
        checks.push(Check {
            label: "Operator skill",
            outcome,
        });
        if let Ok(dest) = &dest {
            checks.extend(lock_check(dest));
        }
    }
    if args.live {
        let outcome = match &entry {
            Some(entry) => live(entry),
            None => Err("skipped: the MCP config check failed".to_owned()),
        };
        checks.push(Check {
            label: "Gateway",
            outcome,
        });
    }

    let mut failed = 0;
    for check in &checks {
        match &check.outcome {
            Ok(message) => println!("PASS {}: {message}", check.label),
            Err(message) => {
                failed += 1;
                println!("FAIL {}: {message}", check.label);
            }
        }
    }
    match failed {
        0 => Ok(()),
        1 => Err(anyhow!("1 doctor check failed")),
        n => Err(anyhow!("{n} doctor checks failed")),
    }
}

fn check_config(
    component: &mut Component,
    client: &Client,
    dest: &Destination,
    scope: Scope,
    places: &Places,
    name: &str,
) -> Result<ServerEntry, String> {
    let text = read_checked(dest, true)?;
    if scope == Scope::Project {
        let repo = git::discover(places.project()).map_err(|err| format!("{err:#}"))?;
        if let Some(repo) = repo {
            let rel = repo.relative(&dest.file).map_err(|e| format!("{e:#}"))?;
            if repo.is_tracked(&rel).map_err(|e| format!("{e:#}"))? {
                return Err(format!(
                    "{rel} is tracked by Git; its token may be committed. Untrack it \
                     (git rm --cached) and revoke the token if it was pushed."
                ));
            }
            repo.verify(dest, false).map_err(|e| format!("{e:#}"))?;
        }
    }
    let found = component
        .inspect(client, &text, name)
        .map_err(|err| format!("{err:#}"))??;
    check_command(&found.command)?;
    Ok(found)
}

/// The entry must launch this program, by an absolute path that exists.
fn check_command(command: &str) -> Result<(), String> {
    let path = Path::new(command);
    if !path.is_absolute() {
        return Err(format!(
            "command must be the absolute path of aipermission-mcp, not {command}"
        ));
    }
    let Ok(target) = fs::metadata(path) else {
        return Err(format!("command {command} does not exist"));
    };
    let me = this_program()
        .and_then(|p| Ok(fs::metadata(p)?))
        .map_err(|err| format!("cannot inspect this program: {err}"))?;
    if (target.dev(), target.ino()) != (me.dev(), me.ino()) {
        return Err(format!(
            "command {command} is not this aipermission-mcp ({}); run init again to update it",
            this_program()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ));
    }
    Ok(())
}

fn check_skill(component: &mut Component, dest: &Destination) -> Result<String, String> {
    let text = read_checked(dest, false)?;
    component
        .validate_skill(&text)
        .map_err(|err| format!("{err:#}"))?;
    Ok(dest.file.display().to_string())
}

/// Reads a file after the path checks; `private` also requires that no
/// one else may read it.
fn read_checked(dest: &Destination, private: bool) -> Result<String, String> {
    let meta = dest.check_file().map_err(|err| format!("{err:#}"))?;
    let Some(meta) = meta else {
        return Err(format!("not found at {}", dest.file.display()));
    };
    let mode = meta.mode() & 0o777;
    if private && mode & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users (mode {mode:04o}); run chmod 600 {}",
            dest.file.display(),
            dest.file.display()
        ));
    }
    let mut text = String::new();
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&dest.file)
        .and_then(|mut file| file.read_to_string(&mut text))
        .map_err(|_| format!("cannot read {} as UTF-8 text", dest.file.display()))?;
    Ok(text)
}

fn lock_check(dest: &Destination) -> Option<Check> {
    let lock_path = lock::path_for(&dest.file);
    let details = match lock::inspect(&dest.file) {
        Inspection::Absent => return None,
        Inspection::Unreadable => "present, unreadable; owner metadata unavailable".to_owned(),
        Inspection::Present(fields) if fields.is_empty() => {
            "present; owner metadata unavailable".to_owned()
        }
        Inspection::Present(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("present, {}", fields.join(", "))
        }
    };
    Some(Check {
        label: "Setup lock",
        outcome: Err(format!(
            "{} ({details}). Never remove it while setup is running; if no setup is running, \
             remove it and retry.",
            lock_path.display()
        )),
    })
}

/// `list_connector_targets` through the sandbox, as `serve` would send it.
fn live(entry: &ServerEntry) -> Result<String, String> {
    let vars = |name: &str| -> Option<OsString> {
        match name {
            "AIPERMISSION_API_URL" => Some(entry.api_url.clone().into()),
            "AIPERMISSION_API_TOKEN" => Some(entry.token.clone().into()),
            "AIPERMISSION_HTTP_TIMEOUT_MS" => Some(LIVE_TIMEOUT_MS.into()),
            _ => None,
        }
    };
    let settings = Settings::from_vars(vars).map_err(|err| format!("{err:#}"))?;
    let (policy, context) = crate::serve::split(settings);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let result = tokio.block_on(async {
        let runtime = Runtime::new(policy, context).await?;
        anyhow::Ok(runtime.call("list_connector_targets", "{}").await)
    });
    let result = result.map_err(|err| format!("{err:#}"))?;
    let value: Value = serde_json::from_str(&result.text).unwrap_or(Value::Null);
    if result.is_error {
        let message = value["error"].as_str().unwrap_or("the call failed");
        return Err(format!("{} answered: {message}", entry.api_url));
    }
    let count = value.as_array().map_or(0, Vec::len);
    let noun = if count == 1 { "target" } else { "targets" };
    Ok(format!(
        "{} is reachable; {count} connector {noun}",
        entry.api_url
    ))
}
