#!/usr/bin/env bash
# Runs the IPC round-trip benchmark (see bench/README.md). Extra arguments
# go to cargo, e.g. `bench/ipc-roundtrip.sh --quiet`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo bench -p burrow-tests --bench ipc_roundtrip "$@"
