#!/usr/bin/env bash
# Fuzzes net_sandbox::xml::StreamReader (and the writer, by round trip) with the
# xml_stream target.
#
#   net-sandbox/fuzz/run.sh [SECONDS]     (default 60)
#
# Uses the nightly toolchain if installed, else stable with RUSTC_BOOTSTRAP; installs cargo-fuzz if it is missing. The
# growing corpus goes to net-sandbox/fuzz/corpus/xml_stream and any crashing
# input to net-sandbox/fuzz/artifacts/xml_stream (both git-ignored); the seeds
# in net-sandbox/fuzz/seeds/xml_stream are read but never written. Exits
# non-zero if the fuzzer finds a crash (a panic, an out-of-memory or a timeout).
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS]   (a positive whole number, default 60)" >&2
    exit 2
fi

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crate_dir="$(dirname "$fuzz_dir")"

# cargo fuzz needs nightly compiler flags (the sanitizer). Where no nightly
# toolchain is installed (and none can be fetched), the installed stable
# compiler is asked to accept them with RUSTC_BOOTSTRAP, as Rust's own
# build does.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

corpus="$fuzz_dir/corpus/xml_stream"
mkdir -p "$corpus"

# cargo fuzz looks for fuzz/ under the crate it is run from. A stream is
# parsed twice and each stanza re-parsed, so -timeout allows for slow inputs
# under AddressSanitizer while still catching anything super-linear.
cd "$crate_dir"
exec cargo "${toolchain[@]}" fuzz run xml_stream "$corpus" "$fuzz_dir/seeds/xml_stream" -- \
    -max_total_time="$seconds" \
    -max_len=65536 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1
