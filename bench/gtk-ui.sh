#!/usr/bin/env bash
# The GTK front end's benchmark (see bench/README.md): footprint beside
# Pidgin, a roster of 5,000 contacts, 1,000 incoming messages. Installs what
# it needs on Debian 12 (as root), builds the release binaries, then runs
# `cargo bench -p burrow-tests --bench gtk_ui`. Extra arguments go to cargo.
# BENCH_RUNS (footprint runs per program, 5) and BENCH_ROSTER_RUNS (3) set
# how many runs the medians are taken over.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup-common.sh

install_packages build-essential pkg-config ca-certificates curl libsqlite3-dev openssl util-linux coreutils \
    prosody lua-sec libgtk-4-dev xvfb x11-utils xdotool imagemagick dbus at-spi2-core python3-pyatspi pidgin
ensure_rust

echo "== build (release)" >&2
cargo build --release --workspace --bins --locked
echo "== benchmark" >&2
exec cargo bench --locked -p burrow-tests --bench gtk_ui "$@"
