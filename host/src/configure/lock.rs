//! The setup lock beside a file being written: `<file>.aipermission.lock`,
//! created exclusively, never stolen (not even from a dead process), and
//! removed only by the holder whose random token it contains. `doctor`
//! reads it through `inspect`, which discloses only safe metadata.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// How often and how many times a busy lock is retried: five seconds.
const RETRY_EVERY: Duration = Duration::from_millis(50);
const ATTEMPTS: u32 = 100;

/// Bytes of a lock file `inspect` reads at most.
const READ_CAP: usize = 4096;

/// When this process started, for the lock's advisory metadata. `main`
/// forces it first thing.
pub static PROCESS_STARTED: LazyLock<SystemTime> = LazyLock::new(SystemTime::now);

/// The lock path for a file.
pub fn path_for(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".aipermission.lock");
    file.with_file_name(name)
}

/// A held lock; dropping it releases it.
pub struct Lock {
    path: PathBuf,
    token: String,
}

impl Lock {
    /// Takes the lock for `file`, waiting up to five seconds.
    pub fn acquire(file: &Path) -> Result<Lock> {
        let path = path_for(file);
        let token = random_hex(16)?;
        let record = json!({
            "pid": std::process::id(),
            "token": token,
            "hostname": hostname(),
            "created_at": iso_ms(SystemTime::now()),
            "process_started_at": iso_ms(*PROCESS_STARTED),
        });
        for _ in 0..ATTEMPTS {
            let created = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path);
            match created {
                Ok(mut file) => {
                    let written = file
                        .write_all(format!("{record}\n").as_bytes())
                        .and_then(|()| file.sync_all());
                    let lock = Lock { path, token };
                    written.context("failed to write the setup lock")?;
                    return Ok(lock);
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                    std::thread::sleep(RETRY_EVERY);
                }
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!("failed to create the setup lock {}", path.display())
                    });
                }
            }
        }
        bail!(
            "Timed out waiting for private config lock: {}. If no other MCP setup process is \
             running, remove {} and retry.",
            file.display(),
            path.display()
        )
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove only our own lock: compare the token first.
        if let Ok(Some(record)) = read_capped(&self.path)
            && serde_json::from_slice::<Value>(&record).ok().and_then(|v| {
                v.get("token")
                    .and_then(Value::as_str)
                    .map(|t| t == self.token)
            }) == Some(true)
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// What `doctor` may say about a lock it found.
#[derive(Debug, PartialEq, Eq)]
pub enum Inspection {
    Absent,
    /// Present but not a small regular file holding a JSON record.
    Unreadable,
    /// Present and readable: only the fields that passed their checks.
    Present(Vec<(&'static str, String)>),
}

/// Looks at the lock for `file` without following links, blocking on a
/// FIFO or changing anything. Never returns the lock's token.
pub fn inspect(file: &Path) -> Inspection {
    let path = path_for(file);
    match fs::symlink_metadata(&path) {
        Err(err) if err.kind() == ErrorKind::NotFound => return Inspection::Absent,
        Err(_) => return Inspection::Unreadable,
        Ok(meta) if !meta.file_type().is_file() => return Inspection::Unreadable,
        Ok(_) => {}
    }
    let Ok(Some(bytes)) = read_capped(&path) else {
        return Inspection::Unreadable;
    };
    let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(&bytes) else {
        return Inspection::Present(Vec::new());
    };
    let mut fields = Vec::new();
    if let Some(pid) = record.get("pid").and_then(Value::as_u64) {
        fields.push(("pid", pid.to_string()));
    }
    let host_ok = |h: &&str| {
        (1..=255).contains(&h.len())
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if let Some(host) = record
        .get("hostname")
        .and_then(Value::as_str)
        .filter(host_ok)
    {
        fields.push(("hostname", host.to_owned()));
    }
    for key in ["created_at", "process_started_at"] {
        let stamp = record.get(key).and_then(Value::as_str);
        let exact = stamp.filter(|s| humantime::parse_rfc3339(s).is_ok_and(|t| iso_ms(t) == *s));
        if let Some(stamp) = exact {
            fields.push((key, stamp.to_owned()));
        }
    }
    Inspection::Present(fields)
}

/// Reads at most [`READ_CAP`] bytes of a regular file, opened without
/// following a link or blocking on a FIFO. `None` when it is larger, or
/// when it changed while being read.
fn read_capped(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let before = file.metadata()?;
    if !before.file_type().is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(READ_CAP as u64 + 1)
        .read_to_end(&mut bytes)?;
    let after = fs::symlink_metadata(path)?;
    use std::os::unix::fs::MetadataExt;
    let same = after.ino() == before.ino() && after.dev() == before.dev();
    if bytes.len() > READ_CAP || !same || after.len() != bytes.len() as u64 {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// `2026-12-03T19:56:08.123Z`.
pub fn iso_ms(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Hex of `bytes` random bytes from the system's generator.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("failed to read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aipm-lock-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_lock_is_exclusive_private_and_released_by_its_holder() {
        let dir = temp_dir("hold");
        let file = dir.join("config.toml");
        let lock = Lock::acquire(&file).unwrap();
        let meta = fs::metadata(path_for(&file)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let Inspection::Present(fields) = inspect(&file) else {
            panic!("the lock is present")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["pid", "hostname", "created_at", "process_started_at"]
        );
        assert!(!format!("{fields:?}").contains(&lock.token));
        drop(lock);
        assert_eq!(inspect(&file), Inspection::Absent);
    }

    #[test]
    fn a_foreign_lock_is_never_stolen_or_removed() {
        let dir = temp_dir("foreign");
        let file = dir.join("mcp.json");
        let stale = "{\"pid\": 999999, \"token\": \"someone-else\"}\n";
        fs::write(path_for(&file), stale).unwrap();
        let err = Lock::acquire(&file).err().unwrap();
        assert!(err.to_string().starts_with("Timed out waiting"), "{err}");
        assert_eq!(fs::read_to_string(path_for(&file)).unwrap(), stale);
        let Inspection::Present(fields) = inspect(&file) else {
            panic!()
        };
        assert_eq!(fields, [("pid", "999999".to_owned())]);
    }

    #[test]
    fn odd_lock_paths_are_reported_unreadable_and_not_followed() {
        let dir = temp_dir("odd");
        let file = dir.join("a.json");
        fs::create_dir(path_for(&file)).unwrap();
        assert_eq!(inspect(&file), Inspection::Unreadable);
        let file = dir.join("b.json");
        std::os::unix::fs::symlink("/etc/hostname", path_for(&file)).unwrap();
        assert_eq!(inspect(&file), Inspection::Unreadable);
        let file = dir.join("c.json");
        fs::write(path_for(&file), vec![b'x'; READ_CAP + 1]).unwrap();
        assert_eq!(inspect(&file), Inspection::Unreadable);
    }
}
