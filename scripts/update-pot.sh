#!/usr/bin/env bash
# Regenerates po/burrow.pot (or the file named as the argument), the template
# of the GTK front end's translations, from every string marked with tr("…")
# or tr_with("…", …) in ui-process/src (xgettext reads Rust's string literals
# as C's). Needs Debian's gettext. scripts/update-po.sh runs it, then merges
# the template into the catalogs.
set -euo pipefail
cd "$(dirname "$0")/.."
output="${1:-po/burrow.pot}"
mkdir -p "$(dirname "$output")"
# i18n.rs defines tr and holds no user string of its own.
mapfile -t sources < <(grep -rlE '\btr(_with)?\(' ui-process/src --include='*.rs' | grep -v '^ui-process/src/i18n.rs$' | sort)
xgettext --language=C --from-code=UTF-8 --keyword=tr --keyword=tr_with \
    --package-name=burrow --add-comments=TRANSLATORS: \
    --sort-by-file -o "$output" "${sources[@]}"
echo "$output: $(msgattrib --no-obsolete "$output" | grep -c '^msgid ') strings (with the header)"
