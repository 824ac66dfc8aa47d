#!/usr/bin/env bash
# Fuzzes the importers (crypto_sandbox::import: Pidgin, Adium, Gajim, xmpp-client, CoyIM) with
# the importers target.
#
#   crypto-sandbox/fuzz-import/run.sh [SECONDS]     (default 60)
#
# See scripts/fuzz-target.sh for the toolchain, the corpus and the artifacts. That script runs
# `cargo fuzz run` from the crate above the fuzz directory, where cargo-fuzz looks for a
# directory called fuzz/; this one is called fuzz-import/, so a cargo wrapper put first on PATH
# adds `--fuzz-dir` to `cargo fuzz run` and passes everything else through untouched.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shim="$(mktemp -d)"
trap 'rm -rf "$shim"' EXIT
real_cargo="$(command -v cargo)"
cat >"$shim/cargo" <<SHIM
#!/usr/bin/env bash
args=()
seen_fuzz=0
for arg in "\$@"; do
    args+=("\$arg")
    if [ "\$seen_fuzz" = 1 ] && [ "\$arg" = run ]; then
        args+=(--fuzz-dir "$here")
        seen_fuzz=2
    fi
    [ "\$arg" = fuzz ] && [ "\$seen_fuzz" = 0 ] && seen_fuzz=1
done
exec "$real_cargo" "\${args[@]}"
SHIM
chmod +x "$shim/cargo"
# Every input is small work (a few bounded parses; scrypt capped at 1 MiB), so -timeout catches
# anything super-linear.
PATH="$shim:$PATH" "$here/../../scripts/fuzz-target.sh" "$here" importers "${1:-60}" \
    -max_len=262144 \
    -timeout=10 \
    -rss_limit_mb=2048
