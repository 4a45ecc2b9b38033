//! The compiled-component cache as clients meet it: servers that start at
//! the same moment on an empty cache all serve and leave one whole entry,
//! and a cache directory that cannot be used costs compile time only.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aipermission_testkit::StandIn;
use aipermission_testkit::client::{McpSession, is_error};
use serde_json::json;

use crate::support::{TOKEN, binary, gateway};

/// A fresh private directory for one test's cache.
fn private_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aipermission-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o700);
    dir
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Starts a server whose cache lives under `cache_home`, makes one call
/// and returns what it logged at debug level.
async fn serve_once(gateway: &StandIn, cache_home: &Path) -> String {
    let url = gateway.url();
    let home = cache_home.to_str().unwrap();
    let vars = [
        ("AIPERMISSION_API_URL", url.as_str()),
        ("AIPERMISSION_API_TOKEN", TOKEN),
        ("AIPERMISSION_MCP_LOG", "aipermission_mcp=debug"),
        ("XDG_CACHE_HOME", home),
    ];
    let session = McpSession::start(binary(), &vars).await.unwrap();
    let listed = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    assert!(!is_error(&listed), "the server serves");
    session.finish().await.unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|read| {
            read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn concurrent_first_starts_all_serve_and_leave_one_whole_entry() {
    let gateway = Arc::new(gateway().await);
    let home = private_dir("cache-race");
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let gateway = Arc::clone(&gateway);
        let home = home.clone();
        starts.spawn(async move { serve_once(&gateway, &home).await });
    }
    while let Some(log) = starts.join_next().await {
        let log = log.unwrap();
        assert!(!log.contains("does not match"), "{log}");
    }
    let cache = home.join("aipermission-mcp");
    let files = entries(&cache);
    assert_eq!(files.len(), 1, "one entry, no temporary files: {files:?}");
    assert!(files[0].ends_with(".cwasm"), "{files:?}");

    // The next start loads that entry as it is.
    let before = fs::read(cache.join(&files[0])).unwrap();
    let log = serve_once(&gateway, &home).await;
    assert!(!log.contains("cache"), "a warm start says nothing: {log}");
    assert_eq!(fs::read(cache.join(&files[0])).unwrap(), before);
    fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn a_cache_directory_that_cannot_be_used_only_costs_compile_time() {
    let gateway = gateway().await;
    let root = private_dir("cache-unusable");

    // XDG_CACHE_HOME names a file: the directory cannot be made.
    let file = root.join("not-a-directory");
    fs::write(&file, b"").unwrap();
    let log = serve_once(&gateway, &file).await;
    let said: Vec<&str> = log.lines().filter(|l| l.contains("cache")).collect();
    assert_eq!(said.len(), 1, "one debug line: {log}");
    assert!(said[0].contains("compiling in memory"), "{log}");

    // A read-only cache directory: nothing can be stored in it (root
    // writes anyway, so the count is checked for other users only).
    let read_only = root.join("read-only");
    fs::create_dir_all(read_only.join("aipermission-mcp")).unwrap();
    set_mode(&read_only.join("aipermission-mcp"), 0o500);
    let log = serve_once(&gateway, &read_only).await;
    if runs_as_root() {
        assert!(!log.contains("panicked"), "{log}");
    } else {
        let said: Vec<&str> = log.lines().filter(|l| l.contains("cache")).collect();
        assert_eq!(said.len(), 1, "one debug line: {log}");
        assert!(entries(&read_only.join("aipermission-mcp")).is_empty());
    }
    set_mode(&read_only.join("aipermission-mcp"), 0o700);
    fs::remove_dir_all(&root).unwrap();
}

/// Whether this process runs as root, read from /proc without libc.
fn runs_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}
