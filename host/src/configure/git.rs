//! Git protections for project-scope configs, which hold a token: refuse
//! a file git tracks (unless forced), add anchored, escaped entries for the
//! config and its temp, lock and recovery files to the repository's
//! `info/exclude`, and prove with `git check-ignore` that git ignores them.
//! Every git failure other than "not a repository" stops the write.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, anyhow, bail};

use super::private_file::{self, Destination};

/// A repository that contains the project directory.
pub struct Repo {
    top: PathBuf,
    exclude: PathBuf,
}

/// What protecting a config did.
pub struct Protection {
    /// The config's path in the repository.
    pub entry: String,
    /// The entries that were missing and are now added.
    pub added: Vec<String>,
}

/// Finds the repository of `project`, or none when it is not in one.
pub fn discover(project: &Path) -> Result<Option<Repo>> {
    let fail = |detail: String| anyhow!("Could not inspect Git repository: {detail}");
    // Git answers "not a repository" both for a plain directory and for a
    // broken `.git` (a gitdir file pointing nowhere, a filesystem boundary).
    // Only the first is safe to write into without protection.
    let dot_git_above = project.ancestors().any(|dir| dir.join(".git").exists());
    let out = match git(project, &["rev-parse", "--show-toplevel"]) {
        Ok(out) => out,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return match dot_git_above {
                true => Err(fail("git is not installed".into())),
                false => Ok(None),
            };
        }
        Err(err) => return Err(fail(err.to_string())),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("not a git repository") && !dot_git_above {
            return Ok(None);
        }
        return Err(fail(first_line(&stderr)));
    }
    let top = PathBuf::from(stdout_line(&out));
    let out = git(
        project,
        &[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "info/exclude",
        ],
    )
    .map_err(|err| fail(err.to_string()))?;
    if !out.status.success() {
        return Err(fail(first_line(&String::from_utf8_lossy(&out.stderr))));
    }
    Ok(Some(Repo {
        top,
        exclude: PathBuf::from(stdout_line(&out)),
    }))
}

impl Repo {
    /// The file's path relative to the top of the work tree, with `/`.
    pub fn relative(&self, file: &Path) -> Result<String> {
        // Resolve the part that exists (the project dir may be a link).
        let mut existing = file;
        let mut rest = Vec::new();
        while !existing.exists() {
            rest.push(existing.file_name().context("a path without a name")?);
            existing = existing.parent().context("a path without a parent")?;
        }
        let mut path = existing.canonicalize()?;
        path.extend(rest.iter().rev());
        let rel = path.strip_prefix(&self.top).map_err(|_| {
            anyhow!(
                "Could not inspect Git repository: {} is outside it",
                file.display()
            )
        })?;
        Ok(rel.to_string_lossy().replace('\\', "/"))
    }

    /// Whether git tracks the path (any case), failing closed.
    pub fn is_tracked(&self, rel: &str) -> Result<bool> {
        let spec = format!(":(literal,icase){rel}");
        let out = git(&self.top, &["ls-files", "--error-unmatch", "--", &spec])
            .context("Could not verify whether MCP config is tracked by Git")?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => bail!(
                "Could not verify whether MCP config is tracked by Git: {}",
                first_line(&String::from_utf8_lossy(&out.stderr))
            ),
        }
    }

    /// Adds the exclude entries for `dest` and checks git ignores every
    /// sensitive path.
    pub fn protect(&self, dest: &Destination, config_tracked: bool) -> Result<Protection> {
        let wrap = |err: anyhow::Error| {
            anyhow!("Could not protect MCP config with local Git excludes: {err:#}")
        };
        let recovery = self.relative(&dest.recovery_dir())?;
        if self.is_tracked(&format!("{recovery}/previous"))? {
            bail!("Refusing tracked MCP config recovery files: {recovery}");
        }
        let rel = self.relative(&dest.file)?;
        let (dir, base) = match rel.rsplit_once('/') {
            Some((dir, base)) => (format!("/{}/", escape(dir)), base),
            None => ("/".to_owned(), rel.as_str()),
        };
        let base = escape(base);
        let entries = vec![
            format!("/{}", escape(&rel)),
            format!("{dir}.{base}.aipermission-*.tmp"),
            format!("{dir}.{base}.aipermission-stage-*"),
            format!("/{}.aipermission.lock", escape(&rel)),
            format!("{dir}.{base}.aipermission-recovery"),
        ];
        let added = self.append_excludes(&entries).map_err(wrap)?;
        self.verify(dest, config_tracked).map_err(wrap)?;
        Ok(Protection {
            entry: rel.clone(),
            added,
        })
    }

    /// Checks that git ignores the config (unless it is tracked: forced),
    /// and the names of its temp, staging, lock and recovery files.
    pub fn verify(&self, dest: &Destination, config_tracked: bool) -> Result<()> {
        let rel = self.relative(&dest.file)?;
        let recovery = self.relative(&dest.recovery_dir())?;
        let dir = rel
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        let base = rel.rsplit('/').next().unwrap_or(&rel);
        let mut sensitive = vec![
            format!("{dir}.{base}.aipermission-git-check.tmp"),
            format!("{dir}.{base}.aipermission-stage-git-check"),
            format!("{rel}.aipermission.lock"),
            format!("{recovery}/previous"),
            format!("{recovery}/candidate"),
        ];
        if !config_tracked {
            sensitive.insert(0, rel);
        }
        for path in &sensitive {
            if !self.is_ignored(path)? {
                bail!("Git still permits sensitive MCP path: {path}");
            }
        }
        Ok(())
    }

    fn append_excludes(&self, entries: &[String]) -> Result<Vec<String>> {
        let info = self
            .exclude
            .parent()
            .context("exclude path without a directory")?;
        let git_dir = info
            .parent()
            .context("exclude path without a git directory")?;
        let dest = Destination::new(git_dir, "info/exclude")?;
        let mut added = Vec::new();
        private_file::write(
            &dest,
            private_file::PUBLIC,
            &mut || Ok(()),
            &mut |current| {
                let current = std::str::from_utf8(current)
                    .map_err(|_| anyhow!("{} is not UTF-8 text", self.exclude.display()))?;
                added.clear();
                let present: Vec<&str> = current.lines().map(str::trim_end).collect();
                let mut text = current.to_owned();
                for entry in entries {
                    if !present.contains(&entry.as_str()) {
                        if !text.is_empty() && !text.ends_with('\n') {
                            text.push('\n');
                        }
                        text.push_str(entry);
                        text.push('\n');
                        added.push(entry.clone());
                    }
                }
                Ok(text)
            },
        )?;
        Ok(added)
    }

    fn is_ignored(&self, rel: &str) -> Result<bool> {
        let out = git(&self.top, &["check-ignore", "-q", "--no-index", "--", rel])?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => bail!(
                "git check-ignore failed: {}",
                first_line(&String::from_utf8_lossy(&out.stderr))
            ),
        }
    }
}

/// Escapes the characters gitignore patterns give a meaning, so a path is
/// matched literally.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']' | '#' | '!' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
}

fn stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .trim_end_matches(['\n', '\r'])
        .to_owned()
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("git failed")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_comment_characters_are_escaped() {
        assert_eq!(
            escape("component [x]*? #!/a b"),
            "component\\ \\[x\\]\\*\\?\\ \\#\\!/a\\ b"
        );
        assert_eq!(escape(".cursor/mcp.json"), ".cursor/mcp.json");
    }
}
