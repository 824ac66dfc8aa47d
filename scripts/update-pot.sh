#!/usr/bin/env bash
# Regenerates po/burrow.pot, the template of the GTK front end's translations,
# from every string marked with tr("…") or tr_with("…", …) in ui-process/src
# (xgettext reads Rust's string literals as C's). Needs Debian's gettext.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p po
mapfile -t sources < <(grep -rlE '\btr(_with)?\(' ui-process/src --include='*.rs' | sort)
xgettext --language=C --from-code=UTF-8 --keyword=tr --keyword=tr_with \
    --package-name=burrow --add-comments=TRANSLATORS: \
    --sort-by-file -o po/burrow.pot "${sources[@]}"
echo "po/burrow.pot: $(grep -c '^msgid "..*"' po/burrow.pot) strings"
