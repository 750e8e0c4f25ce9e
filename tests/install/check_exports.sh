#!/bin/sh
# check_exports.sh — liblowbit.so exports exactly the functions include/lowbit/ declares with LOWBIT_API
# (nothing internal, nothing that is not lowbit_*), has its soname, and each plugin exports only its entry
# point and takes nothing from liblowbit: the host reaches it through the host_api vtable alone.
# usage: check_exports.sh NM READELF LIBRARY SONAME INCLUDE_DIR [PLUGIN...]
set -eu
nm=$1 readelf=$2 library=$3 soname=$4 include_dir=$5
shift 5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
problem() { echo "check_exports: $*" >&2; status=1; }

# Public functions: every declaration in the public headers names LOWBIT_API first (lowbit_backend.h is the
# plugin ABI: types and the plugins' entry point only, nothing liblowbit exports).
: > "$work/names"
for header in "$include_dir"/*.h; do
    case $header in */lowbit_backend.h | */lowbit_export.h) continue ;; esac
    sed -n 's/^LOWBIT_API[^(]*[^a-z0-9_(]\(lowbit_[a-z0-9_]*\)(.*/\1/p' "$header" >> "$work/names"
    # a function declared without the macro would be hidden: liblowbit.so would not export it
    grep -n '^[a-z][a-z0-9_ ]*[ *]lowbit_[a-z0-9_]*(' "$header" | grep -v '^[0-9]*:typedef' > "$work/bare" || true
    while read -r line; do problem "$header:$line: public declaration without LOWBIT_API"; done < "$work/bare"
done
sort -u "$work/names" > "$work/declared"
[ -s "$work/declared" ] || problem "no LOWBIT_API declarations found in $include_dir"

"$nm" -D --defined-only "$library" | awk '{print $NF}' | sort -u > "$work/exported"
# sanitizer builds add their runtime's hooks; they are not lowbit's interface
grep -v '^__\(asan\|ubsan\|tsan\|sanitizer\|odr_asan\)' "$work/exported" > "$work/checked" || true
comm -23 "$work/checked" "$work/declared" | grep '^lowbit_' | sed 's/^/exported but not declared with LOWBIT_API: /' > "$work/extra" || true
grep -v '^lowbit_' "$work/checked" | sed 's/^/exported non-lowbit symbol: /' >> "$work/extra" || true
comm -13 "$work/checked" "$work/declared" | sed 's/^/declared with LOWBIT_API but not exported: /' >> "$work/extra" || true
if [ -s "$work/extra" ]; then
    while read -r line; do problem "$library: $line"; done < "$work/extra"
fi
echo "$library: $(wc -l < "$work/checked") exported symbols, $(wc -l < "$work/declared") declared"

"$readelf" -d "$library" | grep -q "(SONAME).*\[$soname\]" || problem "$library: soname is not $soname"

for plugin in "$@"; do
    exported=$("$nm" -D --defined-only "$plugin" | awk '{print $NF}' | grep -v '^__\(asan\|ubsan\|tsan\|sanitizer\|odr_asan\)' || true)
    if [ "$exported" = lowbit_backend_entry ]; then
        echo "$plugin: exports lowbit_backend_entry only"
    else
        problem "$plugin exports more than lowbit_backend_entry: $(echo "$exported" | tr '\n' ' ')"
    fi
    taken=$("$nm" -D --undefined-only "$plugin" | awk '{print $NF}' | grep '^lowbit_' || true)
    [ -z "$taken" ] || problem "$plugin needs symbols from liblowbit (the host_api vtable is the only way in): $(echo "$taken" | tr '\n' ' ')"
    if "$readelf" -d "$plugin" | grep '(NEEDED)' | grep -q 'liblowbit'; then
        problem "$plugin links liblowbit"
    fi
done
exit $status
