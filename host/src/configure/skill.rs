//! `install-skill`, and the skill half of `setup`: the bundled operator
//! skill (or a local file) checked, then written for one client at 0644,
//! atomically and under the same lock as configs. `custom` prints it.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::paths::{Places, SKILL_FILE, scope_name};
use super::private_file::{self, Destination};
use super::{Component, parse_scope};
use crate::cli::InstallSkillArgs;
use crate::runtime::config::{Client, Scope};

/// A checked skill and where it goes (none: print it).
pub struct Prepared {
    pub text: String,
    pub target: Option<(Destination, Scope)>,
}

/// Loads and checks the skill, and resolves its destination, without
/// writing anything: `setup` does this before it writes the config.
pub fn prepare(
    component: &mut Component,
    places: &Places,
    client: &Client,
    scope: Option<&str>,
    source: Option<&str>,
) -> Result<Prepared> {
    let text = match source {
        None => component.bundled_skill()?,
        Some(source) => read_source(source)?,
    };
    let text = component.validate_skill(&text)?;
    let Some(skill) = &client.skill else {
        return Ok(Prepared { text, target: None });
    };
    let scope = match scope {
        Some(raw) => parse_scope(raw)?,
        None => skill.default_scope,
    };
    let location = match scope {
        Scope::User => &skill.user,
        Scope::Project => &skill.project,
    };
    let dest = places.resolve(location, scope, SKILL_FILE)?;
    dest.check_file()?;
    Ok(Prepared {
        text,
        target: Some((dest, scope)),
    })
}

/// Writes a prepared skill; returns where, or prints it for `custom`.
pub fn install(prepared: &Prepared) -> Result<Option<(&Destination, Scope)>> {
    let Some((dest, scope)) = &prepared.target else {
        print!("{}", prepared.text);
        return Ok(None);
    };
    private_file::write(dest, private_file::PUBLIC, &mut || Ok(()), &mut |_| {
        Ok(prepared.text.clone())
    })?;
    Ok(Some((dest, *scope)))
}

fn read_source(source: &str) -> Result<String> {
    let lower = source.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        bail!("remote skill sources are not supported; use the bundled skill or a local file path");
    }
    std::fs::read_to_string(Path::new(source))
        .with_context(|| format!("cannot read the skill source {source}"))
}

/// `aipermission-mcp install-skill`.
pub fn run(args: InstallSkillArgs) -> Result<()> {
    let places = Places::new(args.places.home(), args.places.project_dir())?;
    let mut component = Component::load()?;
    let client = component.find_client(&args.client)?;
    let prepared = prepare(
        &mut component,
        &places,
        &client,
        args.scope.as_deref(),
        args.source.as_deref(),
    )?;
    if let Some((dest, scope)) = install(&prepared)? {
        println!(
            "Installed aipermission-operator skill for {} ({}):",
            client.label,
            scope_name(scope)
        );
        println!("{}", dest.file.display());
        println!();
        println!(
            "Restart {} or open a new session to load the skill.",
            client.label
        );
    }
    Ok(())
}
