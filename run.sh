#!/usr/bin/env bash
# Installs what Burrow needs on Debian 12, builds it and runs it.
# Arguments go to burrow (default: the GTK window when a display is present,
# the text front end otherwise).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup-common.sh

install_packages build-essential pkg-config ca-certificates curl libgtk-4-dev libsqlite3-dev
ensure_rust
cargo build --release --workspace --bins --locked >&2
exec ./target/release/burrow "$@"
