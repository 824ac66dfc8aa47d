#!/usr/bin/env bash
# Fuzzes the otr crate's message layer (text classification, the binary
# messages, fragment reassembly, TLV records) with the otr_message target.
#
#   otr/fuzz/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
# Every input is small work (a few parses and re-encodings), so -timeout
# catches anything super-linear.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../scripts/fuzz-target.sh" "$here" otr_message "${1:-60}" \
    -max_len=65536 \
    -timeout=10 \
    -rss_limit_mb=2048
