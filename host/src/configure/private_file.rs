//! Writing a client's config (or skill, or git exclude) file safely: under
//! the setup lock, never through a symbolic link, atomically (a private
//! temp file, fsynced, then renamed over the old one, then the directory
//! fsynced), only if the file did not change while the new text was being
//! prepared, and keeping the previous version in a one-slot recovery
//! directory beside it. POSIX only; Windows ACLs are out of scope.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};

use super::lock::{self, Lock};

/// Temp and staging files older than this are left by a crash; removed.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How a file is written.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// Permission bits of the file.
    pub file: u32,
    /// Permission bits of directories this write creates.
    pub dirs: u32,
    /// Keep the previous content in `.<name>.aipermission-recovery/previous`.
    pub recovery: bool,
}

/// Config files: they hold a token.
pub const PRIVATE: Mode = Mode {
    file: 0o600,
    dirs: 0o700,
    recovery: true,
};

/// Skill files: instructions anyone may read.
pub const PUBLIC: Mode = Mode {
    file: 0o644,
    dirs: 0o755,
    recovery: false,
};

/// A file inside a trusted directory (the home or the project directory).
/// Every directory between the two must be a real directory.
#[derive(Clone, Debug)]
pub struct Destination {
    pub root: PathBuf,
    pub file: PathBuf,
}

impl Destination {
    /// `root` joined with a relative `/`-separated path; `..`, absolute
    /// parts and an empty name are refused.
    pub fn new(root: &Path, relative: &str) -> Result<Destination> {
        let rel = Path::new(relative);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || rel.file_name().is_none() {
            bail!(
                "refusing the path {relative}: it must stay inside {}",
                root.display()
            );
        }
        Ok(Destination {
            root: root.to_owned(),
            file: root.join(rel),
        })
    }

    fn dir(&self) -> &Path {
        self.file.parent().expect("a destination has a parent")
    }

    fn base(&self) -> String {
        self.file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }

    /// `.<name>.aipermission-recovery`.
    pub fn recovery_dir(&self) -> PathBuf {
        self.dir()
            .join(format!(".{}.aipermission-recovery", self.base()))
    }

    /// The directories from the root to the file, each checked: the root
    /// (home or project, which may itself be reached through a link) must
    /// be a directory, and below it symlinks are refused. Missing ones are
    /// returned in order.
    fn check_path(&self) -> Result<Vec<PathBuf>> {
        let mut missing = Vec::new();
        match fs::metadata(&self.root) {
            Ok(meta) if !meta.is_dir() => bail!("{} is not a directory", self.root.display()),
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => missing.push(self.root.clone()),
            Err(err) => {
                return Err(err).context(format!("cannot inspect {}", self.root.display()));
            }
        }
        let rel = self.dir().strip_prefix(&self.root).unwrap_or(Path::new(""));
        let mut at = self.root.clone();
        for step in rel.components() {
            at.push(step);
            match fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => bail!(
                    "Refusing private config path through symbolic link or junction: {}",
                    at.display()
                ),
                Ok(meta) if !meta.is_dir() => bail!("{} is not a directory", at.display()),
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::NotFound => missing.push(at.clone()),
                Err(err) => return Err(err).context(format!("cannot inspect {}", at.display())),
            }
        }
        Ok(missing)
    }

    /// Refuses a destination that is a link or not a regular file.
    pub fn check_file(&self) -> Result<Option<fs::Metadata>> {
        self.check_path()?;
        match fs::symlink_metadata(&self.file) {
            Ok(meta) if meta.file_type().is_symlink() => bail!(
                "Refusing to replace symbolic-link config: {}",
                self.file.display()
            ),
            Ok(meta) if !meta.is_file() => bail!("{} is not a regular file", self.file.display()),
            Ok(meta) => Ok(Some(meta)),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).context(format!("cannot inspect {}", self.file.display())),
        }
    }
}

/// What a write did.
#[derive(Debug)]
pub struct Written {
    /// Where the previous content was kept, when there was a file before.
    pub recovery: Option<PathBuf>,
}

/// The existing file as read under the lock, to compare before replacing.
#[derive(PartialEq, Eq)]
struct Snapshot {
    bytes: Vec<u8>,
    identity: Option<Identity>,
}

/// Device, inode, size, modification and change times, mode and owner.
type Identity = (u64, u64, u64, (i64, i64), (i64, i64), u32, u32);

impl Snapshot {
    fn take(dest: &Destination) -> Result<Snapshot> {
        let Some(_) = dest.check_file()? else {
            return Ok(Snapshot {
                bytes: Vec::new(),
                identity: None,
            });
        };
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&dest.file)
            .with_context(|| format!("cannot open {}", dest.file.display()))?;
        let meta = file.metadata()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", dest.file.display()))?;
        let identity = (
            meta.dev(),
            meta.ino(),
            meta.size(),
            (meta.mtime(), meta.mtime_nsec()),
            (meta.ctime(), meta.ctime_nsec()),
            meta.mode(),
            meta.uid(),
        );
        Ok(Snapshot {
            bytes,
            identity: Some(identity),
        })
    }
}

/// Writes `dest` under its lock. `precheck` runs twice under the lock,
/// before reading and right before replacing (the git checks live there);
/// `render` turns the current bytes (empty for a new file) into the new
/// text. Any failure leaves the file as it was.
pub fn write(
    dest: &Destination,
    mode: Mode,
    precheck: &mut dyn FnMut() -> Result<()>,
    render: &mut dyn FnMut(&[u8]) -> Result<String>,
) -> Result<Written> {
    for dir in dest.check_path()? {
        fs::DirBuilder::new()
            .mode(mode.dirs)
            .create(&dir)
            .or_else(|err| match err.kind() {
                ErrorKind::AlreadyExists => Ok(()),
                _ => Err(err),
            })
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _lock = Lock::acquire(&dest.file)?;
    remove_stale(dest);

    precheck()?;
    let before = Snapshot::take(dest)?;
    let new_text = render(&before.bytes)?;

    let temp = TempFile::create(dest, mode.file)?;
    temp.fill(new_text.as_bytes())?;

    precheck()?;
    if Snapshot::take(dest)? != before {
        bail!(
            "AIPERMISSION_CONFIG_CHANGED: Config changed while preparing an update: {}. \
             Review the current file and retry.",
            dest.file.display()
        );
    }
    let recovery = match (mode.recovery, before.identity) {
        (true, Some(_)) => Some(keep_previous(dest, &before.bytes)?),
        _ => None,
    };
    match before.identity {
        Some(_) => fs::rename(&temp.path, &dest.file)
            .with_context(|| format!("cannot replace {}", dest.file.display()))?,
        None => publish_fresh(&temp.path, dest, new_text.as_bytes(), mode.file)?,
    }
    File::open(dest.dir())
        .and_then(|dir| dir.sync_all())
        .with_context(|| {
            format!(
                "the new file is in place at {}, but its directory could not be synced",
                dest.file.display()
            )
        })?;
    Ok(Written { recovery })
}

/// Publishes a file that did not exist: a link that fails if someone
/// created the file meanwhile, so a late creation wins.
fn publish_fresh(temp: &Path, dest: &Destination, bytes: &[u8], mode: u32) -> Result<()> {
    match fs::hard_link(temp, &dest.file) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => bail!(
            "AIPERMISSION_CONFIG_CHANGED: {} was created by someone else while preparing an \
             update. Review it and retry.",
            dest.file.display()
        ),
        // Filesystems without hard links: an exclusive create instead.
        Err(_) => {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&dest.file)
                .map_err(|err| match err.kind() {
                    ErrorKind::AlreadyExists => anyhow!(
                        "AIPERMISSION_CONFIG_CHANGED: {} was created by someone else",
                        dest.file.display()
                    ),
                    _ => anyhow!(err).context(format!("cannot create {}", dest.file.display())),
                })?;
            file.write_all(bytes)
                .and_then(|()| file.sync_all())
                .map_err(|err| {
                    anyhow!(
                        "AIPERMISSION_CONFIG_CREATION_INCOMPLETE: {} was created but not fully \
                         written ({err}); it is private, review it and retry",
                        dest.file.display()
                    )
                })
        }
    }
}

/// Keeps the previous content in the recovery slot, a private directory:
/// a hard link to the old file when it is ours and already private (so
/// the slot holds exactly what was replaced), else a private byte-exact
/// copy of what was read.
fn keep_previous(dest: &Destination, bytes: &[u8]) -> Result<PathBuf> {
    let dir = dest.recovery_dir();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    match fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => bail!(
            "Refusing private config path through symbolic link or junction: {}",
            dir.display()
        ),
        Ok(meta) if meta.uid() != me => {
            bail!(
                "{} belongs to another user; refusing to keep secrets there",
                dir.display()
            )
        }
        Ok(meta) if meta.mode() & 0o077 != 0 => {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(_) => {}
        Err(_) => fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?,
    }
    let candidate = dir.join("candidate");
    let previous = dir.join("previous");
    let old = fs::symlink_metadata(&dest.file)?;
    // A run stopped between keeping and replacing left the live file in
    // the slot already; renaming a link onto itself would do nothing.
    if fs::symlink_metadata(&previous).is_ok_and(|p| (p.dev(), p.ino()) == (old.dev(), old.ino())) {
        return Ok(previous);
    }
    if fs::symlink_metadata(&candidate).is_ok() {
        bail!(
            "A recovery candidate is left at {} (from an interrupted setup, or not ours). \
             Review it, remove it, and retry; the config was left unchanged.",
            candidate.display()
        );
    }
    let private = old.mode() & 0o077 == 0;
    let linked = old.uid() == me && private && fs::hard_link(&dest.file, &candidate).is_ok();
    if !linked {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&candidate)
            .with_context(|| format!("cannot create {}", candidate.display()))?;
        file.write_all(bytes).and_then(|()| file.sync_all())?;
    }
    fs::rename(&candidate, &previous)
        .with_context(|| format!("cannot keep the previous config at {}", previous.display()))?;
    Ok(previous)
}

/// A temp file beside the destination, removed unless it was renamed.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn create(dest: &Destination, mode: u32) -> Result<TempFile> {
        let name = format!(
            ".{}.aipermission-{}-{}.tmp",
            dest.base(),
            std::process::id(),
            lock::random_hex(8)?
        );
        let path = dest.dir().join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("cannot create a temp file in {}", dest.dir().display()))?;
        let temp = TempFile { path };
        // Whatever the umask did, set the mode while the file is empty.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(temp)
    }

    fn fill(&self, bytes: &[u8]) -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a rename there is nothing here to remove.
        let _ = fs::remove_file(&self.path);
    }
}

/// Removes temp files and staging directories of this destination that a
/// crash left behind more than a day ago. Fresh ones may belong to a
/// running writer on another path and are left alone.
fn remove_stale(dest: &Destination) {
    let prefix = format!(".{}.aipermission-", dest.base());
    let Ok(entries) = fs::read_dir(dest.dir()) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let temp = rest.ends_with(".tmp");
        let stage = rest.starts_with("stage-");
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old && temp && meta.is_file() {
            let _ = fs::remove_file(entry.path());
        } else if old && stage && meta.is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aipm-pf-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_precheck_that_fails_just_before_the_write_changes_nothing() {
        let root = scratch("precheck");
        let dest = Destination::new(&root, "config.json").unwrap();
        fs::write(&dest.file, "old").unwrap();
        let mut calls = 0;
        let mut precheck = || {
            calls += 1;
            match calls {
                1 => Ok(()),
                _ => bail!("tracked now"),
            }
        };
        let err = write(&dest, PRIVATE, &mut precheck, &mut |_| Ok("new".into())).unwrap_err();
        assert_eq!(err.to_string(), "tracked now");
        assert_eq!(calls, 2);
        assert_eq!(fs::read_to_string(&dest.file).unwrap(), "old");
        assert_eq!(listing(&root), ["config.json"], "no temp file or lock left");
    }

    #[test]
    fn a_file_changed_while_rendering_is_not_overwritten() {
        let root = scratch("changed");
        let dest = Destination::new(&root, "config.toml").unwrap();
        fs::write(&dest.file, "a = 1\n").unwrap();
        let file = dest.file.clone();
        let mut render = |_: &[u8]| {
            fs::write(&file, "a = 2\n").unwrap();
            Ok("a = 3\n".to_owned())
        };
        let err = write(&dest, PRIVATE, &mut || Ok(()), &mut render).unwrap_err();
        assert!(
            err.to_string().starts_with("AIPERMISSION_CONFIG_CHANGED"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&dest.file).unwrap(), "a = 2\n");
        assert_eq!(listing(&root), ["config.toml"]);
    }

    #[test]
    fn a_file_created_by_someone_else_meanwhile_wins() {
        let root = scratch("late");
        let dest = Destination::new(&root, "mcp.json").unwrap();
        let file = dest.file.clone();
        let mut render = |_: &[u8]| {
            fs::write(&file, "theirs").unwrap();
            Ok("ours".to_owned())
        };
        let err = write(&dest, PRIVATE, &mut || Ok(()), &mut render).unwrap_err();
        assert!(
            err.to_string().starts_with("AIPERMISSION_CONFIG_CHANGED"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&dest.file).unwrap(), "theirs");
    }

    #[test]
    fn a_foreign_recovery_candidate_stops_the_write() {
        let root = scratch("candidate");
        let dest = Destination::new(&root, "mcp.json").unwrap();
        fs::write(&dest.file, "old").unwrap();
        fs::create_dir(dest.recovery_dir()).unwrap();
        fs::write(dest.recovery_dir().join("candidate"), "planted").unwrap();
        assert!(write(&dest, PRIVATE, &mut || Ok(()), &mut |_| Ok("new".into())).is_err());
        assert_eq!(fs::read_to_string(&dest.file).unwrap(), "old");
        assert_eq!(
            fs::read_to_string(dest.recovery_dir().join("candidate")).unwrap(),
            "planted"
        );
    }

    #[test]
    fn files_are_private_or_public_as_asked_and_paths_stay_inside() {
        let root = scratch("modes");
        for (name, mode, bits) in [("a/secret", PRIVATE, 0o600), ("b/skill", PUBLIC, 0o644)] {
            let dest = Destination::new(&root, name).unwrap();
            write(&dest, mode, &mut || Ok(()), &mut |_| Ok("x".into())).unwrap();
            let meta = fs::metadata(&dest.file).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, bits);
        }
        assert!(Destination::new(&root, "../escape").is_err());
        assert!(Destination::new(&root, "/etc/passwd").is_err());
    }
}
