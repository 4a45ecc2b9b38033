//! `init` and `setup`: write one client's MCP config entry for this bridge
//! (and, for `setup`, its operator skill). The flags, the client, the
//! paths, a tracked file and the skill are checked before the token is
//! asked for; the file's content and git's verdict on the excludes are
//! checked after, before anything is written.

use std::io::Read;

use aipermission_core::config::DEFAULT_SERVER_NAME;
use aipermission_core::origin;
use anyhow::{Context, Result, anyhow, bail};

use super::git;
use super::paths::{Places, scope_name};
use super::private_file::{self, Destination};
use super::{Component, parse_scope, skill, terminal, this_program};
use crate::cli::{InitArgs, SetupArgs};
use crate::runtime::config::{Client, Scope, ServerEntry};

/// `aipermission-mcp init`.
pub fn run_init(args: InitArgs) -> Result<()> {
    run(args, None)
}

/// `aipermission-mcp setup`.
pub fn run_setup(args: SetupArgs) -> Result<()> {
    let skill = SkillChoice {
        scope: args.skill_scope.or_else(|| args.init.scope.clone()),
        source: args.skill_source,
    };
    run(args.init, Some(skill))
}

struct SkillChoice {
    scope: Option<String>,
    source: Option<String>,
}

fn run(args: InitArgs, skill_choice: Option<SkillChoice>) -> Result<()> {
    let interactive = terminal::interactive();
    if args.provider.is_none() && !interactive {
        bail!("Non-interactive setup requires an explicit --provider.");
    }
    let places = Places::new(args.places.home(), args.places.project_dir())?;
    let mut component = Component::load()?;
    let client = match &args.provider {
        Some(query) => component.find_client(query)?,
        None => choose_provider(&mut component)?,
    };
    let custom = client.mcp.is_none();
    let needs_token = !custom && !args.print;

    // The whole of stdin is the token; read it before anything else.
    let piped_token = match needs_token && args.token_stdin {
        true => Some(read_stdin_token()?),
        false => None,
    };
    let name = match (&args.name, interactive) {
        (Some(name), _) => name.clone(),
        (None, true) => Some(terminal::visible(&format!(
            "MCP server name [{DEFAULT_SERVER_NAME}]: "
        ))?)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_NAME.to_owned()),
        (None, false) => DEFAULT_SERVER_NAME.to_owned(),
    };
    let name = component.server_name(&name)?;
    let url = origin::parse_gateway_url(Some(&args.api_url)).map_err(|err| anyhow!("{err}"))?;
    let url = url.as_str().to_owned();
    let command = this_program()?.to_string_lossy().into_owned();

    let target = match needs_token {
        true => {
            let mcp = client.mcp.as_ref().expect("a client with a token target");
            let scope = match &args.scope {
                Some(raw) => parse_scope(raw)?,
                None => mcp.default_scope,
            };
            let location = component.mcp_location(&client, scope)?;
            Some((places.resolve(&location, scope, "")?, scope))
        }
        false => {
            let scope = args.scope.as_deref().map(parse_scope).transpose()?;
            if let (Some(scope), Some(mcp)) = (scope, &client.mcp) {
                // A scope the client lacks is an error even in a preview,
                // except user scope for VS Code, whose preview is the point.
                if mcp.user.is_some() || scope != Scope::User {
                    component.mcp_location(&client, scope)?;
                }
            }
            None
        }
    };

    // setup: the skill is checked before the config is written.
    let prepared = match &skill_choice {
        Some(choice) if !args.print || custom => Some(skill::prepare(
            &mut component,
            &places,
            &client,
            choice.scope.as_deref(),
            choice.source.as_deref(),
        )?),
        _ => None,
    };

    let Some((dest, scope)) = target else {
        if let Some(prepared) = &prepared {
            skill::install(prepared)?;
            println!();
        }
        println!(
            "Preview for {} (nothing was written; put your token in place of YOUR_TOKEN_HERE):",
            client.label
        );
        println!();
        print!("{}", component.preview(&client, &name, &command, &url)?);
        if skill_choice.is_some() && !custom {
            eprintln!(
                "No files were changed. Run install-skill separately to install the native \
                 operator skill."
            );
        }
        return Ok(());
    };

    dest.check_file()?;
    let repo = match scope {
        Scope::Project => git::discover(places.project())?,
        Scope::User => None,
    };
    let tracked = match &repo {
        Some(repo) if !args.force => refuse_tracked(repo, &dest).map(|()| false)?,
        Some(repo) => repo.is_tracked(&repo.relative(&dest.file)?)?,
        None => false,
    };

    let token = match piped_token {
        Some(token) => token,
        None => ask_token()?,
    };
    if token.trim().is_empty() {
        bail!("API token is required.");
    }
    let protection = match &repo {
        Some(repo) => Some(repo.protect(&dest, tracked)?),
        None => None,
    };
    let entry = ServerEntry {
        command,
        api_url: url,
        token,
    };
    let written = private_file::write(
        &dest,
        private_file::PRIVATE,
        &mut || match &repo {
            Some(repo) if !args.force => refuse_tracked(repo, &dest),
            _ => Ok(()),
        },
        &mut |existing| {
            let existing = std::str::from_utf8(existing).map_err(|_| {
                anyhow!(
                    "{} is not UTF-8 text; it was left unchanged",
                    dest.file.display()
                )
            })?;
            component.render(&client, existing, &name, &entry)
        },
    )?;

    let installed = match &prepared {
        Some(prepared) => Some(skill::install(prepared).with_context(|| {
            format!(
                "The MCP config was written at {}, but skill installation failed",
                dest.file.display()
            )
        })?),
        None => None,
    };

    println!();
    println!("Configured {}", client.label);
    println!("Name: {name}");
    println!("Path: {}", dest.file.display());
    if let Some(recovery) = &written.recovery {
        println!(
            "Previous config recovery (may contain secrets): {}",
            recovery.display()
        );
    }
    println!("Scope: {}", scope_name(scope));
    if let Some(protection) = &protection {
        match protection.added.is_empty() {
            true => println!("Git: {} is already in .git/info/exclude", protection.entry),
            false => println!("Git: added {} to .git/info/exclude", protection.entry),
        }
    }
    if let Some(Some((skill_dest, skill_scope))) = installed {
        println!(
            "Skill: {} ({})",
            skill_dest.file.display(),
            scope_name(skill_scope)
        );
    }
    println!();
    println!(
        "This file holds your AIPermission API token. Keep it private; if it is ever \
         committed or shared, revoke the token in AIPermission."
    );
    println!("Restart {} to load the new MCP server.", client.label);
    Ok(())
}

fn choose_provider(component: &mut Component) -> Result<Client> {
    let clients: Vec<Client> = component
        .clients()?
        .into_iter()
        .filter(|c| c.mcp.is_some() || c.id == "custom")
        .collect();
    let items: Vec<(String, String)> = clients
        .iter()
        .map(|c| (c.label.clone(), c.summary.clone()))
        .collect();
    let picked = terminal::menu("Which AI client should use AIPermission?", &items)?;
    Ok(clients[picked].clone())
}

/// The token from the hidden prompt when a terminal is there (even if
/// stdout is not), or one plain line of piped stdin.
fn ask_token() -> Result<String> {
    if terminal::stdin_is_terminal() {
        return terminal::hidden("API token: ");
    }
    Ok(terminal::line()?.unwrap_or_default().trim().to_owned())
}

fn read_stdin_token() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the token from stdin")?;
    Ok(text.trim().to_owned())
}

/// Refuses a config file git tracks.
fn refuse_tracked(repo: &git::Repo, dest: &Destination) -> Result<()> {
    let rel = repo.relative(&dest.file)?;
    if repo.is_tracked(&rel)? {
        bail!(
            "Refusing to write AIPERMISSION_API_TOKEN into tracked git file: {rel}\n\
             Use --print to copy the entry by hand, untrack and ignore the file, or pass \
             --force if you really mean to."
        );
    }
    Ok(())
}
