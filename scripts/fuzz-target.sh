#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while; shared by every crate's fuzz/run.sh.
#
#   scripts/fuzz-target.sh FUZZ_DIR TARGET SECONDS [LIBFUZZER_OPTION...]
#
# Uses the nightly toolchain if installed, else stable with RUSTC_BOOTSTRAP;
# installs cargo-fuzz if it is missing. The growing corpus goes to
# FUZZ_DIR/corpus/TARGET and any crashing input to FUZZ_DIR/artifacts/TARGET
# (both git-ignored); the seeds in FUZZ_DIR/seeds/TARGET are read but never
# written. Exits non-zero if the fuzzer finds a crash (a panic, an
# out-of-memory or a timeout).
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 FUZZ_DIR TARGET SECONDS [LIBFUZZER_OPTION...]" >&2
    exit 2
fi
fuzz_dir="$(cd "$1" && pwd)"
target="$2"
seconds="$3"
shift 3
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: run.sh [SECONDS]   (a positive whole number, default 60)" >&2
    exit 2
fi

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
    echo "fuzz-target.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

corpus="$fuzz_dir/corpus/$target"
mkdir -p "$corpus"

# Run from the crate the fuzz directory belongs to, naming the directory,
# so a crate may have more than one (crypto-sandbox has fuzz/ and fuzz-import/).
cd "$(dirname "$fuzz_dir")"
exec cargo "${toolchain[@]}" fuzz run --fuzz-dir "$fuzz_dir" "$target" "$corpus" "$fuzz_dir/seeds/$target" -- \
    -max_total_time="$seconds" \
    -print_final_stats=1 \
    "$@"
