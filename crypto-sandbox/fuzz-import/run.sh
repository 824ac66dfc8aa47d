#!/usr/bin/env bash
# Fuzzes the importers (crypto_sandbox::import: Pidgin, Adium, Gajim, xmpp-client, CoyIM) with
# the importers target.
#
#   crypto-sandbox/fuzz-import/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Every input is small work (a few bounded parses; scrypt capped at 1 MiB), so -timeout catches
# anything super-linear.
exec "$here/../../scripts/fuzz-target.sh" "$here" importers "${1:-60}" \
    -max_len=262144 \
    -timeout=10 \
    -rss_limit_mb=2048
