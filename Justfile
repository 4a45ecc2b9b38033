# aipermission-mcp: build, test and check recipes. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The WASI release the component and the host agree on (wasmtime 48).
wasi_crate := "wasip2"

# the server binary the dev profile builds (tests and the demo use it)
bin := "target/debug/aipermission-mcp"

default:
    @just --list

# install what building and testing need: the wasm target, the Python
# client and parsers, and VS Code's JSONC parser for Node
[group('setup')]
setup:
    rustup target add wasm32-wasip2
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -m pip install -q -r requirements-dev.txt
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error

# build the server (the component is built and embedded by host/build.rs)
[group('build')]
build:
    cargo build -p aipermission-mcp

# build an optimised server binary into target/release
[group('build')]
release:
    cargo build --release -p aipermission-mcp

# run every test: unit tests and the integration suite against the built binary
[group('test')]
test: setup
    cargo test --workspace

# build the component alone for other wasm hosts: target/component/ gets
# aipermission_bridge.wasm, its WIT package (wit/), its SHA-256 and size
[group('build')]
component:
    #!/usr/bin/env bash
    set -euo pipefail
    # The target directory the host's build script uses, so nothing built
    # twice; the guest profile is the one the host embeds.
    cargo build -q --locked -p aipermission-guest --target wasm32-wasip2 --profile guest --target-dir target/guest-build
    out=target/component
    rm -rf "$out" && mkdir -p "$out/wit"
    cp target/guest-build/wasm32-wasip2/guest/aipermission_bridge.wasm "$out/"
    cp -r wit/*.wit wit/deps "$out/wit/"
    python3 - "$out" <<'PY'
    import hashlib, json, pathlib, sys
    out = pathlib.Path(sys.argv[1])
    wasm = out / "aipermission_bridge.wasm"
    data = wasm.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (out / "aipermission_bridge.wasm.sha256").write_text(f"{digest}  {wasm.name}\n")
    manifest = {"file": wasm.name, "bytes": len(data), "sha256": digest,
                "world": "aipermission:bridge/bridge@0.1.0", "wit": "wit/"}
    (out / "aipermission_bridge.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{wasm}: {len(data)} bytes, sha256 {digest}")
    PY

# formatting and lints, as CI runs them
[group('test')]
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy -p aipermission-guest -p aipermission-hostile --target wasm32-wasip2 -- -D warnings

# show the main job: discovery, a call, the operator's approval, the poll
[group('demo')]
demo:
    # Built like the tests (whole workspace, all targets), so after `just
    # test` nothing is rebuilt: a narrower build would resolve other crate
    # features and compile wasmtime again.
    cargo build -q --workspace --all-targets
    target/debug/demo {{bin}}

# copy the WASI 0.2 WIT packages from the wasip2 crate into wit/deps
[group('wit')]
vendor-wit:
    #!/usr/bin/env bash
    set -euo pipefail
    manifest=$(cargo metadata --format-version 1 --locked \
      | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "{{wasi_crate}}"))')
    rm -rf wit/deps && mkdir -p wit/deps
    cp "$(dirname "$manifest")"/wit/deps/*.wit wit/deps/
    echo "wit/deps now holds: $(ls wit/deps | tr '\n' ' ')"

# fail if wit/deps differs from what vendor-wit writes
[group('wit')]
vendor-wit-check: vendor-wit
    git diff --exit-code -- wit/deps
    test -z "$(git status --porcelain -- wit/deps)"

# everything CI runs, in CI's order
[group('test')]
ci: setup check test demo component bench-smoke vendor-wit-check fuzz-smoke

# measure start-up, per-call latency against direct HTTP, throughput and
# memory on release builds; `just bench --json FILE` also writes JSON
[group('test')]
bench *args:
    cargo build --release -p aipermission-mcp -p aipermission-testkit --bin aipermission-mcp --bin bench
    target/release/bench target/release/aipermission-mcp {{args}}

# one iteration of the benchmark on the dev build, so the harness cannot rot
[group('test')]
bench-smoke:
    cargo build -p aipermission-mcp -p aipermission-testkit --bin aipermission-mcp --bin bench
    target/debug/bench {{bin}} --iterations 1

# run every fuzz target for a while (nightly toolchain; installs cargo-fuzz)
[group('test')]
fuzz seconds="60":
    #!/usr/bin/env bash
    set -euo pipefail
    if ! rustup toolchain list | grep -q '^nightly'; then
        echo "fuzz: needs a nightly toolchain (rustup toolchain install nightly)" >&2
        exit 1
    fi
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    cd fuzz
    for target in $(cargo +nightly fuzz list); do
        echo "fuzz: $target for {{seconds}} s"
        log=$(mktemp)
        cargo +nightly fuzz run "$target" -- -max_total_time={{seconds}} 2>&1 | tee "$log" | tail -n 3
        # A target that did not run is a failure too.
        grep -q '^Done [1-9][0-9]* runs' "$log" || { echo "fuzz: $target did not run" >&2; exit 1; }
        rm -f "$log"
    done

# CI's fuzz smoke: a few seconds of each target wherever nightly exists
[group('test')]
fuzz-smoke:
    #!/usr/bin/env bash
    if rustup toolchain list | grep -q '^nightly'; then
        just fuzz 10
    else
        echo "fuzz smoke skipped: no nightly toolchain on this machine"
    fi
