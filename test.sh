#!/usr/bin/env bash
# Installs what Burrow's tests need on Debian 12 and runs every test.
# Run as root (apt-get; the hostile-IPC tests force a socket buffer size,
# which needs CAP_NET_ADMIN). Set BURROW_FUZZ_SECONDS=0 to skip the fuzz run
# (BURROW_IMPORTER_FUZZ_SECONDS sets the per-importer targets' seconds, 10 each).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup-common.sh

install_packages build-essential pkg-config ca-certificates curl libsqlite3-dev apparmor openssl util-linux prosody lua-sec ejabberd \
    libotr5-dev libotr5-bin python3-potr tor iproute2 dante-server tshark socat dnsmasq-base \
    libgtk-4-dev xvfb xdotool imagemagick dbus at-spi2-core python3-pyatspi desktop-file-utils appstream \
    gettext locales
ensure_rust

# The GTK window's language test starts Burrow in Spanish and Swedish; with
# these locales GTK's own strings follow too (Burrow's need no locale).
for locale in es_ES sv_SE; do
    locale -a | grep -qx "$locale.utf8" || localedef -i "$locale" -c -f UTF-8 "$locale.UTF-8"
done
echo "== translations: po/burrow.pot current, po/*.po complete (scripts/update-po.sh --check)"
scripts/update-po.sh --check
echo "== desktop entry and AppStream metainfo"
desktop-file-validate data/im.burrow.Burrow.desktop
appstreamcli validate --no-net data/im.burrow.Burrow.metainfo.xml
echo "== build"
cargo build --workspace --bins --locked
echo "== unit, death, process, hostile-IPC, XMPP and OTR end-to-end and interop tests, and the GTK window under Xvfb"
echo "   (screenshots of the GTK runs: target/debug/gtk-artifacts/first-run and .../lang)"
cargo test --workspace --locked
echo "== AppArmor profiles compile"
apparmor/check.sh
fuzz_seconds="${BURROW_FUZZ_SECONDS:-30}"
if [ "$fuzz_seconds" -gt 0 ]; then
    echo "== IPC frame fuzzing for ${fuzz_seconds}s"
    ipc/fuzz/run.sh "$fuzz_seconds"
    echo "== XML stream parser fuzzing for ${fuzz_seconds}s"
    net-sandbox/fuzz/run.sh "$fuzz_seconds"
    echo "== OTR message parser fuzzing for ${fuzz_seconds}s"
    otr/fuzz/run.sh "$fuzz_seconds"
    echo "== store decoder fuzzing for ${fuzz_seconds}s"
    crypto-sandbox/fuzz/run.sh "$fuzz_seconds"
    echo "== importers fuzzing for ${fuzz_seconds}s"
    crypto-sandbox/fuzz-import/run.sh "$fuzz_seconds"
    # Each importer's own target, briefly (BURROW_IMPORTER_FUZZ_SECONDS each, 10 by default).
    importer_seconds="${BURROW_IMPORTER_FUZZ_SECONDS:-10}"
    for importer in pidgin adium gajim xmpp_client coyim; do
        echo "== $importer importer fuzzing for ${importer_seconds}s"
        crypto-sandbox/fuzz-import/run.sh "$importer_seconds" "$importer"
    done
fi
echo "== all tests passed"
