#!/usr/bin/env bash
# Fuzzes the store file's decoders (crypto_sandbox::vault::format: the header
# parser, and the contents decoder on plaintext bytes, bypassing the AEAD)
# with the vault_decode target.
#
#   crypto-sandbox/fuzz/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts.
# Every input is small work (a parse, a decode, a re-encoding and a seal with
# a fixed key), so -timeout catches anything super-linear; -rss_limit_mb
# catches a length that makes the decoder allocate without bound.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../scripts/fuzz-target.sh" "$here" vault_decode "${1:-60}" \
    -max_len=65536 \
    -timeout=10 \
    -rss_limit_mb=2048
