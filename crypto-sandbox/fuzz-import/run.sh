#!/usr/bin/env bash
# Fuzzes the importers (crypto_sandbox::import: Pidgin, Adium, Gajim, xmpp-client, CoyIM).
#
#   crypto-sandbox/fuzz-import/run.sh [SECONDS] [TARGET]     (default 60 s, target importers)
#
# TARGET is importers (every importer on each input) or one importer's own target: pidgin,
# adium, gajim, xmpp_client, coyim.
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Every input is small work (a few bounded parses; scrypt capped at 1 MiB), so -timeout catches
# anything super-linear.
target="${2:-importers}"
case "$target" in
    importers|pidgin|adium|gajim|xmpp_client|coyim) ;;
    *) echo "usage: run.sh [SECONDS] [importers|pidgin|adium|gajim|xmpp_client|coyim]" >&2; exit 2 ;;
esac
exec "$here/../../scripts/fuzz-target.sh" "$here" "$target" "${1:-60}" \
    -max_len=262144 \
    -timeout=10 \
    -rss_limit_mb=2048
