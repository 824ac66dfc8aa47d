#!/usr/bin/env bash
# Fuzzes ipc::codec::decode with the frame_decode target.
#
#   ipc/fuzz/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../scripts/fuzz-target.sh" "$here" frame_decode "${1:-60}" \
    -max_len=65536 \
    -rss_limit_mb=2048
