#!/bin/sh
# Build the libotr reference peer: tests/otr-peers/build.sh OUTDIR
# Produces OUTDIR/libotr_peer. Needs libotr5-dev (pkg-config name "libotr").
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
if ! pkg-config --exists libotr; then
    echo "build.sh: pkg-config cannot find libotr (install libotr5-dev)" >&2
    exit 1
fi
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -Werror -o "$out/libotr_peer" "$here/libotr_peer.c" \
    $(pkg-config --cflags --libs libotr)
echo "built $out/libotr_peer" >&2
