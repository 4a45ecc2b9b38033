//! The compiled-component cache. Compiling the embedded component with
//! Cranelift costs a noticeable part of every start; loading the compiled
//! code back costs about a millisecond. The first start stores it under
//! the user's cache directory (`$XDG_CACHE_HOME/aipermission-mcp`, else
//! `~/.cache/aipermission-mcp`), keyed by the component's SHA-256 and the
//! engine's compatibility hash; later starts load it.
//!
//! The cache is used only in a directory that belongs to this user and no
//! one else may write (POSIX; elsewhere the component is compiled in
//! memory at every start). A cached file is used only when it is a regular
//! file private to this user, its header names this component and engine
//! and its payload matches the checksum stored with it; anything else
//! (corrupt, truncated, foreign, stale) is ignored and replaced. Files are
//! written whole to a private temporary file and renamed into place.
//!
//! A warm start is a few milliseconds, so the checks are cheap ones: the
//! embedded component's SHA-256 is computed when it is built, and the
//! payload's checksum is XXH3-128, which takes a tenth of SHA-256's time
//! on the 2 MiB payload. It guards against accidents; against people, the
//! file's permissions do (see `read`).

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use xxhash_rust::xxh3::xxh3_128;

use crate::runtime::{COMPONENT, COMPONENT_SHA256};

/// Identifies the file format; bumped when the layout changes.
const MAGIC: &[u8; 16] = b"aipermission-cw2";

/// Magic, key and payload checksum.
const HEADER_LEN: usize = MAGIC.len() + 32 + 16;

/// Loads the compiled component from the cache, or compiles it and stores
/// the result. The cache is an optimisation: when it cannot be read or
/// written, the component is compiled and the server starts anyway.
///
/// TODO: a warm start answers `initialize` in about 7.5 ms against a goal
/// of 5 ms. Reading, checking and copying the 2 MiB of cached code into
/// executable memory is about 1.5 ms of it (mapping the file instead of
/// copying it would save most), the rest is process start, the instance
/// pool and the first instance that lists the tools. Acceptable for now:
/// a client starts the server once per session, and the first tool call
/// is answered within 10 ms of the start.
pub fn load_or_compile(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> Result<Component> {
    let key = cache_key(engine, wasm);
    let dir = dir.filter(|dir| usable_dir(dir));
    let path = dir.map(|dir| dir.join(file_name(&key)));
    if let Some(component) = path.as_deref().and_then(|path| read(engine, path, &key)) {
        return Ok(component);
    }

    let component = Component::new(engine, wasm)
        .map_err(|err| err.context("failed to compile the component"))?;
    if let Some(path) = path
        && let Err(err) = write(&path, &key, &component)
    {
        let error = format!("{err:#}");
        tracing::debug!(path = %path.display(), error, "could not cache the compiled component");
    }
    Ok(component)
}

/// SHA-256 of the component's digest and of the engine's compatibility
/// hash: code compiled by one engine configuration never loads into
/// another.
fn cache_key(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    let mut engine_hash = DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    Sha256::new()
        .chain_update(component_digest(wasm))
        .chain_update(engine_hash.finish().to_le_bytes())
        .finalize()
        .into()
}

/// SHA-256 of a component; the embedded one's was computed by `build.rs`.
fn component_digest(wasm: &[u8]) -> [u8; 32] {
    if std::ptr::eq(wasm, COMPONENT)
        && let Some(digest) = from_hex(COMPONENT_SHA256)
    {
        return digest;
    }
    Sha256::digest(wasm).into()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    (text.len() == 64).then_some(digest)
}

/// The payload's checksum as stored in the header.
fn checksum(payload: &[u8]) -> [u8; 16] {
    xxh3_128(payload).to_le_bytes()
}

/// The user's cache directory for this program, if there is one.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        let path = PathBuf::from(std::env::var_os(var)?);
        path.is_absolute().then_some(path)
    };
    let base = absolute("XDG_CACHE_HOME").or_else(|| Some(absolute("HOME")?.join(".cache")))?;
    Some(base.join("aipermission-mcp"))
}

fn file_name(key: &[u8; 32]) -> String {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("component-{hex}.cwasm")
}

/// Creates the cache directory if needed and says whether it is private to
/// this user, so that no one else can have put a file in it.
fn usable_dir(dir: &Path) -> bool {
    if let Err(err) = create_private_dir(dir) {
        let error = err.to_string();
        tracing::debug!(path = %dir.display(), error, "no cache directory: compiling in memory");
        return false;
    }
    let usable = fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir() && private(&meta));
    if !usable {
        let path = dir.display();
        tracing::debug!(%path, "the cache directory is not private: compiling in memory");
    }
    usable
}

fn read(engine: &Engine, path: &Path, key: &[u8; 32]) -> Option<Component> {
    let bytes = read_private_file(path)?;
    let (header, payload) = bytes.split_at_checked(HEADER_LEN)?;
    let (magic, rest) = header.split_at(MAGIC.len());
    let (stored_key, stored_checksum) = rest.split_at(32);
    if magic != MAGIC || stored_key != key || stored_checksum != checksum(payload) {
        tracing::debug!(path = %path.display(), "ignoring a cached component that does not match");
        return None;
    }
    // SAFETY: deserializing trusts the bytes to be code that wasmtime
    // compiled for this engine. These are: the file is a regular file owned
    // by this user and writable by no one else, in a directory that is
    // private too, so only this user (or root) wrote it, and anyone who can
    // do that can replace this binary as well; the header names this
    // component and engine, and the payload matches the checksum written
    // with it, which rules out a truncated, corrupt or stale file. So the
    // payload is the whole output of `serialize` in `write` below.
    match unsafe { Component::deserialize(engine, payload) } {
        Ok(component) => Some(component),
        Err(err) => {
            let error = format!("{err:#}");
            tracing::debug!(path = %path.display(), error, "cached component rejected");
            None
        }
    }
}

fn write(path: &Path, key: &[u8; 32], component: &Component) -> Result<()> {
    let payload = component.serialize()?;
    let dir = path.parent().expect("cache files live in a directory");
    create_private_dir(dir)?;

    let name = path.file_name().unwrap_or_default().display();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = create_private_file(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(key)?;
        file.write_all(&checksum(&payload))?;
        file.write_all(&payload)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    Ok(written?)
}

/// Largest cache file read: the compiled component is about 1 MiB.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Owned by this user, with no permission for group or others.
#[cfg(unix)]
fn private(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    meta.uid() == me && meta.mode() & 0o077 == 0
}

/// Without POSIX ownership to check, nothing counts as private, so no
/// compiled code is ever loaded from disk.
#[cfg(not(unix))]
fn private(_meta: &fs::Metadata) -> bool {
    false
}

/// Reads a cache file that is a regular, private file, without following
/// a symbolic link or blocking on a FIFO.
#[cfg(unix)]
fn read_private_file(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !private(&meta) || meta.len() > MAX_FILE_BYTES {
        tracing::debug!(path = %path.display(), "ignoring a cache file that is not private");
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(not(unix))]
fn read_private_file(_path: &Path) -> Option<Vec<u8>> {
    None
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{COMPONENT, engine};

    fn only_file(dir: &Path) -> PathBuf {
        let files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }

    #[test]
    fn stores_once_then_loads_and_replaces_anything_damaged() {
        let engine = engine().unwrap();
        let dir =
            std::env::temp_dir().join(format!("aipermission-cache-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);

        load_or_compile(&engine, COMPONENT, Some(&dir)).unwrap();
        let file = only_file(&dir);
        let key = cache_key(&engine, COMPONENT);
        let good = fs::read(&file).unwrap();
        assert!(read(&engine, &file, &key).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }

        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let damaged = [
            flipped,
            good[..good.len() / 2].to_vec(),
            good[..10].to_vec(),
            Vec::new(),
        ];
        for bytes in damaged {
            fs::write(&file, &bytes).unwrap();
            assert!(
                read(&engine, &file, &key).is_none(),
                "damaged file was loaded"
            );
            load_or_compile(&engine, COMPONENT, Some(&dir)).unwrap();
            assert_eq!(
                fs::read(only_file(&dir)).unwrap(),
                good,
                "damaged file was not replaced"
            );
        }

        let other_key = [7; 32];
        assert!(
            read(&engine, &file, &other_key).is_none(),
            "a file for another key was loaded"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directories_others_could_write_are_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let engine = engine().unwrap();
        let dir =
            std::env::temp_dir().join(format!("aipermission-cache-perm-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        load_or_compile(&engine, COMPONENT, Some(&dir)).unwrap();
        let file = only_file(&dir);
        let key = cache_key(&engine, COMPONENT);

        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            read(&engine, &file, &key).is_none(),
            "a group-readable file was loaded"
        );
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("link.cwasm");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(
            read(&engine, &link, &key).is_none(),
            "a symbolic link was followed"
        );
        fs::remove_file(&link).unwrap();

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!usable_dir(&dir), "a directory others can write was used");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn code_compiled_by_another_engine_configuration_is_never_loaded() {
        let engine = engine().unwrap();
        // Code without the epoch checks the deadline relies on.
        let other = Engine::default();
        let dir =
            std::env::temp_dir().join(format!("aipermission-cache-engine-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);

        load_or_compile(&other, COMPONENT, Some(&dir)).unwrap();
        let foreign = fs::read(only_file(&dir)).unwrap();
        let key = cache_key(&engine, COMPONENT);
        assert_ne!(
            key,
            cache_key(&other, COMPONENT),
            "the engine is part of the key"
        );

        // The other engine's code under this engine's name, with a header
        // that names this engine and a checksum that matches: only
        // wasmtime's own check is left, and it refuses.
        let payload = &foreign[HEADER_LEN..];
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(&key);
        forged.extend_from_slice(&checksum(payload));
        forged.extend_from_slice(payload);
        let path = dir.join(file_name(&key));
        create_private_file(&path)
            .unwrap()
            .write_all(&forged)
            .unwrap();
        assert!(
            read(&engine, &path, &key).is_none(),
            "foreign code was loaded"
        );

        load_or_compile(&engine, COMPONENT, Some(&dir)).unwrap();
        assert!(read(&engine, &path, &key).is_some(), "it was replaced");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_digest_computed_at_build_time_is_the_components() {
        let computed: [u8; 32] = Sha256::digest(COMPONENT).into();
        assert_eq!(component_digest(COMPONENT), computed);
        let copy = COMPONENT.to_vec();
        assert_eq!(component_digest(&copy), computed);
    }

    #[test]
    fn works_without_a_cache_directory() {
        let engine = engine().unwrap();
        assert!(load_or_compile(&engine, COMPONENT, None).is_ok());
    }
}
