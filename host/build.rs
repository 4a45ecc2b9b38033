//! Builds the `aipermission:bridge` component from `guest/` for
//! `wasm32-wasip2` and leaves it in `OUT_DIR`, so the host binary embeds
//! it and one `cargo build` gives a self-contained executable.
//!
//! The same build makes the hostile component of `tests/hostile/` that the
//! sandbox tests run; its path reaches them as
//! `AIPERMISSION_HOSTILE_COMPONENT`. The binary never uses it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The component's file name, from the guest crate's `[lib] name`.
const COMPONENT: &str = "aipermission_bridge.wasm";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ lives in the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    for input in [
        "guest",
        "core",
        "wit",
        "skills",
        "tests/hostile",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    // The outer build holds the lock on its target directory, so the
    // nested build gets its own, shared by every profile of the host.
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is deep inside the target directory")
        .join("guest-build");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "-p",
            "aipermission-guest",
            "-p",
            "aipermission-hostile",
        ])
        .args(["--target", "wasm32-wasip2", "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir);
    // Flags meant for the outer build (sanitizers, clippy, a nightly
    // toolchain from fuzzing) must not leak into the component's build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTUP_TOOLCHAIN",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }

    let status = command
        .status()
        .expect("failed to run cargo for the component");
    if !status.success() {
        panic!(
            "building the component failed; is the target installed? \
             run `rustup target add wasm32-wasip2`"
        );
    }

    let built = target_dir.join("wasm32-wasip2/guest");
    copy(&built.join(COMPONENT), &out_dir.join(COMPONENT));
    // The cache key needs the component's digest at every start; the
    // build computes it once.
    let component = std::fs::read(out_dir.join(COMPONENT)).expect("the component was copied");
    let digest: String = Sha256::digest(&component)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=AIPERMISSION_COMPONENT_SHA256={digest}");
    let hostile = built.join("aipermission_hostile.wasm");
    println!(
        "cargo:rustc-env=AIPERMISSION_HOSTILE_COMPONENT={}",
        hostile.display()
    );
}

fn copy(from: &Path, to: &Path) {
    if let Err(err) = std::fs::copy(from, to) {
        panic!("failed to copy `{}`: {err}", from.display());
    }
}
