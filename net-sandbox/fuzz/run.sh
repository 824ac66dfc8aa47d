#!/usr/bin/env bash
# Fuzzes xmpp_xml::StreamReader (and the writer, by round trip) with
# the xml_stream target.
#
#   net-sandbox/fuzz/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
# A stream is parsed twice and each stanza re-parsed, so -timeout allows for
# slow inputs under AddressSanitizer while still catching anything
# super-linear.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../scripts/fuzz-target.sh" "$here" xml_stream "${1:-60}" \
    -max_len=65536 \
    -timeout=10 \
    -rss_limit_mb=2048
