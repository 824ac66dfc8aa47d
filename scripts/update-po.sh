#!/usr/bin/env bash
# The catalogs of the GTK front end (po/LL.po for each language of po/LINGUAS).
#   scripts/update-po.sh          regenerates po/burrow.pot from the source
#                                 (update-pot.sh), merges it into every catalog
#                                 (msgmerge), then checks them as --check does.
#   scripts/update-po.sh --check  changes nothing; fails, naming every msgid
#                                 concerned, when po/burrow.pot is not what the
#                                 source marks, or a catalog has a string
#                                 untranslated or fuzzy once merged with it, or
#                                 msgfmt --check finds an error. test.sh runs it.
# Needs Debian's gettext (xgettext, msgmerge, msgattrib, msgfmt).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-update}"
case "$mode" in update | --check) ;; *) echo "usage: $0 [--check]" >&2; exit 2 ;; esac
mapfile -t languages < <(grep -vE '^\s*(#|$)' po/LINGUAS)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The msgids of a catalog or template, one a line, as C strings.
msgids() {
    msgattrib --no-obsolete --no-wrap --no-location "$@" | { grep '^msgid ' || true; } | { grep -v '^msgid ""$' || true; } | sed 's/^msgid /  /' | sort
}

failed=0
if [ "$mode" = update ]; then
    scripts/update-pot.sh
    template=po/burrow.pot
else
    template="$work/burrow.pot"
    scripts/update-pot.sh "$template" >/dev/null
    if ! diff <(msgids po/burrow.pot) <(msgids "$template") >"$work/pot.diff"; then
        echo "po/burrow.pot is out of date: run scripts/update-po.sh. Strings marked in the source but not in it (>), or in it but no longer in the source (<):"
        grep '^[<>]' "$work/pot.diff"
        failed=1
    fi
fi

for language in "${languages[@]}"; do
    catalog="po/$language.po"
    if [ ! -f "$catalog" ]; then
        echo "$catalog is missing (po/LINGUAS lists $language): msginit --locale=$language -i po/burrow.pot -o $catalog"
        failed=1
        continue
    fi
    merged="$work/$language.po"
    if [ "$mode" = update ]; then
        msgmerge --quiet --update --backup=none "$catalog" "$template"
        cp "$catalog" "$merged"
    else
        # No fuzzy guesses: a new string is reported as untranslated.
        msgmerge --quiet --no-fuzzy-matching -o "$merged" "$catalog" "$template"
    fi
    echo -n "$catalog: "
    if ! msgfmt --check --statistics -o /dev/null "$merged" 2>&1; then
        failed=1
    fi
    untranslated="$(msgids --untranslated "$merged")"
    fuzzy="$(msgids --only-fuzzy "$merged")"
    if [ -n "$untranslated" ]; then
        echo "$catalog: untranslated:"
        echo "$untranslated"
        failed=1
    fi
    if [ -n "$fuzzy" ]; then
        echo "$catalog: fuzzy (check the translation, then remove the '#, fuzzy' line):"
        echo "$fuzzy"
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "the translations are incomplete; see po/README.md" >&2
    exit 1
fi
