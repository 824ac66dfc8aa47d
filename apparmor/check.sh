#!/usr/bin/env bash
# Compile every AppArmor profile in this folder without loading it into the
# kernel, so that a broken profile fails the test run instead of failing on a
# user's machine (where a profile that does not load leaves px transitions
# refused and Burrow unable to start its children).
#
# Each profile is compiled three times:
#   default  apparmor_parser -QK with the system's parser.conf;
#   debian   against Debian 12's pinned feature set, the one Debian and Tails
#            build policy for (no AF_UNIX or D-Bus mediation: unix rules are
#            downgraded to per-type network rules, dbus rules are dropped);
#   abi3     against the full 3.0 ABI (AF_UNIX and D-Bus mediation, as on
#            Ubuntu kernels), so the unix and dbus rules are checked as written.
# The debian and abi3 passes run with --warn=all; a warning that is not on
# the list of expected ones below fails the profile too.
#
# Exit status: 0 if every profile passes, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# apparmor_parser lives in /usr/sbin, often not in a user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v apparmor_parser >/dev/null 2>&1; then
    echo "apparmor_parser not found: installing Debian's apparmor package" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y apparmor >/dev/null; then
        $sudo apt-get update >/dev/null
        $sudo apt-get install -y apparmor >/dev/null
    fi
fi

debian_features=/usr/share/apparmor-features/features
abi3_features=/etc/apparmor.d/abi/3.0

# Warnings we accept, each for a stated reason:
#  - profiles are named by their attachment path (what Debian and Tails
#    profiles do, and what the px transitions and peer= rules refer to);
#  - on Debian 12's feature set unix rules can only be enforced per type and
#    dbus rules not at all (see README.md, "Limits");
#  - the parser's note that there is no kernel interface to cache against.
expected='The use of file paths as profile names is deprecated|downgrading extended network unix socket rule to generic network rule|dbus rules not enforced|^Cache read/write disabled'

# compile NAME FILE [parser options...]: print nothing and return 0 on a clean
# compile; print the parser's output and return 1 otherwise.
compile() {
    local name="$1" file="$2" out status
    shift 2
    status=0
    out="$(apparmor_parser -QK "$@" "$file" 2>&1)" || status=$?
    if [ "$status" -ne 0 ]; then
        printf '      [%s] apparmor_parser exited %d:\n' "$name" "$status"
        printf '%s\n' "$out" | sed 's/^/        /'
        return 1
    fi
    local unexpected
    unexpected="$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | grep -Ev "$expected" || true)"
    if [ -n "$unexpected" ]; then
        printf '      [%s] unexpected warnings:\n' "$name"
        printf '%s\n' "$unexpected" | sed 's/^/        /'
        return 1
    fi
    return 0
}

failed=0
count=0
for file in "$here"/*; do
    [ -f "$file" ] || continue
    case "$(basename "$file")" in
        *.sh|*.md) continue ;;
    esac
    profile="$(basename "$file")"
    count=$((count + 1))
    details=""
    passes=()
    ok=1

    if d="$(compile default "$file")"; then passes+=(default); else ok=0; details+="$d"$'\n'; fi
    if [ -r "$debian_features" ]; then
        if d="$(compile debian "$file" --warn=all \
                --kernel-features "$debian_features" --policy-features "$debian_features")"; then
            passes+=(debian)
        else ok=0; details+="$d"$'\n'; fi
    fi
    if [ -r "$abi3_features" ]; then
        if d="$(compile abi3 "$file" --warn=all \
                --kernel-features "$abi3_features" --policy-features "$abi3_features")"; then
            passes+=(abi3)
        else ok=0; details+="$d"$'\n'; fi
    fi

    if [ "$ok" -eq 1 ]; then
        printf 'ok    %-32s (%s)\n' "$profile" "${passes[*]}"
    else
        printf 'FAIL  %s\n' "$profile"
        printf '%s' "$details"
        failed=$((failed + 1))
    fi
done

if [ "$count" -eq 0 ]; then
    echo "FAIL  no profiles found in $here" >&2
    exit 1
fi
if [ "$failed" -ne 0 ]; then
    exit 1
fi
