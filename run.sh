#!/usr/bin/env bash
# Installs what Burrow needs on Debian 12, builds it and runs it.
# Arguments go to burrow (default: the text front end).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup-common.sh

install_packages build-essential pkg-config ca-certificates curl libsqlite3-dev
ensure_rust
cargo build --release --workspace --bins --locked >&2
if [ "$#" -eq 0 ]; then
    set -- --ui text
fi
exec ./target/release/burrow "$@"
