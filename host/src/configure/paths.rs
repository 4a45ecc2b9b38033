//! Where files go: the home directory (or `--home`, or a client's own home
//! variable such as `CODEX_HOME`) for user scope, the project directory
//! (`--project-dir`, else the working directory) for project scope.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::private_file::Destination;
use crate::runtime::config::{Location, Scope};

/// The skill's file below a client's skills directory.
pub const SKILL_FILE: &str = "aipermission-operator/SKILL.md";

/// The roots a command resolves paths against.
pub struct Places {
    home: Option<PathBuf>,
    /// `--home` was given: client home variables are ignored.
    home_given: bool,
    project: PathBuf,
}

impl Places {
    pub fn new(home: Option<PathBuf>, project: Option<PathBuf>) -> Result<Places> {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let absolute = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
        let home_given = home.is_some();
        let home = home.or_else(std::env::home_dir).map(absolute);
        let project = project.map(absolute).unwrap_or_else(|| cwd.clone());
        Ok(Places {
            home,
            home_given,
            project,
        })
    }

    pub fn project(&self) -> &Path {
        &self.project
    }

    /// The destination of a location in a scope, with `suffix` (a file
    /// below a directory location) appended.
    pub fn resolve(&self, location: &Location, scope: Scope, suffix: &str) -> Result<Destination> {
        let join = |path: &str| match suffix {
            "" => path.to_owned(),
            _ => format!("{path}/{suffix}"),
        };
        match scope {
            Scope::Project => Destination::new(&self.project, &join(&location.path)),
            Scope::User => {
                let own_home = location
                    .home_variable
                    .as_deref()
                    .filter(|_| !self.home_given)
                    .and_then(std::env::var_os)
                    .filter(|v| !v.is_empty());
                if let Some(dir) = own_home {
                    let dir = PathBuf::from(dir);
                    if !dir.is_absolute() {
                        bail!(
                            "{} must be an absolute path",
                            location.home_variable.as_deref().unwrap_or_default()
                        );
                    }
                    let under = join(&location.path_under_variable);
                    return Destination::new(&dir, &under);
                }
                let Some(home) = &self.home else {
                    bail!("cannot find the home directory; pass --home");
                };
                Destination::new(home, &join(&location.path))
            }
        }
    }
}

/// The display form of a scope.
pub fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::User => "user",
        Scope::Project => "project",
    }
}
