# Sourced by scripts/run, scripts/test and scripts/bench: installs what is missing and sets up the
# build environment. Tools go to a cache outside the clone, so a second run (or a new clone on the
# same machine) takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${LEADBOARD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/leadboard/tools}
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# Each step's line says how long the script has been running, so a slow step shows in any log.
log() { printf '\033[1m==> [%ss] %s\033[0m\n' "$SECONDS" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen CLI must match the library version pinned in Cargo.toml exactly.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")
[ -n "$WASM_BINDGEN_VERSION" ] || die "Cargo.toml must pin wasm-bindgen as \"=0.2.X\""

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Installs Debian packages that are missing (one apt-get run for all of them).
apt_ensure() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing system packages: ${missing[*]} (install them with your package manager)"
  log "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Chooses how the wasm half is built. With a rustup wasm32 target: the normal toolchain. Without
# one (a machine that cannot download targets): Debian's Rust, which ships the std source, and
# std rebuilt for wasm32 (-Zbuild-std, allowed on a stable compiler by RUSTC_BOOTSTRAP).
WASM_CARGO_ARGS=()
INSTALL_CARGO=(cargo)
# Where `cargo clippy` and `cargo fmt` find the linters that match the compiler doing the build.
LINT_PATH=$PATH
setup_rust() {
  command -v cargo >/dev/null || command -v /usr/bin/cargo >/dev/null || apt_ensure cargo-web rustc-web
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "Rust: rustup with its wasm32 target"
  else
    log "Rust: no rustup wasm32 target; using Debian's Rust with -Zbuild-std"
    apt_ensure rustc-web cargo-web rust-web-src lld-22 rust-web-clippy rustfmt-web
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    WASM_CARGO_ARGS=(-Zbuild-std=std,panic_abort)
    # rustc links wasm with `rust-lld`, which Debian's rustc does not ship; lld-22's multi-flavour
    # `lld` is the same linker (rustc passes `-flavor wasm`).
    [ -x "$TOOLS/bin/rust-lld" ] || ln -sf /usr/lib/llvm-22/bin/lld "$TOOLS/bin/rust-lld"
    INSTALL_CARGO=(/usr/bin/cargo)
    # rustup's clippy cannot read crates compiled by Debian's newer rustc: Debian's own first.
    LINT_PATH=/usr/bin:$PATH
  fi
}

# rustfmt's check and clippy over every target, the server's and the browser's code.
# (`lint_as_you_build` is the same check for a run that builds everything anyway.)
lint() {
  (cd "$ROOT" && PATH=$LINT_PATH cargo fmt --all --check)
  (cd "$ROOT" && PATH=$LINT_PATH cargo clippy --workspace --all-targets --features leadboard/bench -- -D warnings)
  (cd "$ROOT" && PATH=$LINT_PATH cargo clippy -p leadboard --lib --no-default-features --features hydrate -- -D warnings)
}

# rustfmt's check now, and clippy for every build that follows: clippy's driver becomes the
# compiler of the workspace's own crates (what `cargo clippy` runs for its check-only build) with
# warnings denied, so the test and site builds lint while they compile, and the dependencies are
# compiled once instead of also twice more for two check-only clippy runs. CLIPPY_ARGS is how
# cargo-clippy hands its arguments to the driver.
lint_as_you_build() {
  (cd "$ROOT" && PATH=$LINT_PATH cargo fmt --all --check)
  RUSTC_WORKSPACE_WRAPPER=$(PATH=$LINT_PATH command -v clippy-driver) || die "clippy is not installed"
  export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

# The wasm-bindgen CLI that matches Cargo.toml, installed once into $TOOLS.
setup_build_tools() {
  setup_rust
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $TOOLS (one time, ~4 min)"
    # Not --locked: its lock names a webpki-roots release that registries may no longer serve.
    "${INSTALL_CARGO[@]}" install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force --root "$TOOLS"
  fi
}

# wasm-opt for release builds, from npm's binaryen (Debian's is too old for current wasm).
setup_wasm_opt() {
  command -v wasm-opt >/dev/null && return 0
  command -v npm >/dev/null || apt_ensure nodejs npm
  log "installing wasm-opt (npm binaryen) into $TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" binaryen@132.0.0 >/dev/null
}

# Debian's Chromium and the end-to-end test dependencies (Playwright without its browser download).
setup_e2e() {
  apt_ensure chromium curl
  command -v npm >/dev/null || apt_ensure nodejs npm
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    log "installing Playwright (npm, no browser download)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
  fi
}

# Builds the site into target/site and the server into target/{debug,release}/leadboard: the
# browser's half (`build_browser`) and the server's half (the binary with `ssr`). These are the
# steps cargo-leptos takes; doing them here spares a first run compiling cargo-leptos, which takes
# longer than all of them together. `--release` optimises both halves and shrinks the wasm.
build_site() {
  build_browser "$@"
  local server=(--profile dev)
  [ "${1:-}" = --release ] && server=(--release)
  (cd "$ROOT" && cargo build -p leadboard --bin leadboard --no-default-features --features ssr "${server[@]}")
}

# The browser's half of the site: the lib with `hydrate`, for wasm32, through wasm-bindgen, the
# stylesheet and public/ beside it. Any server binary of the same source serves it (the tests use
# the one their own build made).
build_browser() {
  local wasm_profile=wasm-dev
  [ "${1:-}" = --release ] && wasm_profile=wasm-release
  local site=$ROOT/target/site pkg=$ROOT/target/site/pkg
  # A cdylib here only (Cargo.toml keeps the lib an rlib, so host builds link no shared library).
  (cd "$ROOT" && cargo rustc -p leadboard --lib --crate-type cdylib --target wasm32-unknown-unknown \
    --no-default-features --features hydrate --profile "$wasm_profile" "${WASM_CARGO_ARGS[@]}")
  rm -rf "$pkg" && mkdir -p "$pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name leadboard \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$wasm_profile/leadboard.wasm"
  # With LEPTOS_OUTPUT_NAME set at compile time, the hydration script asks for leadboard.wasm.
  mv "$pkg/leadboard_bg.wasm" "$pkg/leadboard.wasm"
  if [ "$wasm_profile" = wasm-release ]; then
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$pkg/leadboard.wasm" -o "$pkg/leadboard.wasm"
  fi
  cp "$ROOT/style/main.css" "$pkg/leadboard.css"
  cp -R "$ROOT/public/." "$site/"
}

# Leptos bakes the output name in at compile time (it names the site's files); every build gets
# the same value, so the tests' and the site's builds share compiled dependencies.
export LEPTOS_OUTPUT_NAME=leadboard
