#!/usr/bin/env bash
# Bundles one file of a pinned npm package into the jar for report.html (NiiVue's viewer, Chart.js's charts):
# `npm pack` of NAME@VERSION, checked against its SHA-256, cached under the build folder; FILE_IN_PACKAGE (a
# single-file UMD build) goes to DEST_DIR/DEST_NAME with a NOTICE_NAME naming the package, its license (read from
# its package.json) and the package's own license text when the tarball has one.
# Without npm or network the build goes on and report.html says that it has no FEATURE.
#
#   fetch-npm-bundle.sh NAME VERSION SHA256 FILE_IN_PACKAGE DEST_NAME DEST_DIR CACHE_DIR NOTICE_NAME FEATURE
#   e.g. fetch-npm-bundle.sh chart.js 4.6.1 9345da... dist/chart.umd.js chart.umd.js target/classes/org/ctcf/report \
#            target/chartjs chartjs-NOTICE.txt charts
set -euo pipefail
[ $# -eq 9 ] || { echo "usage: $0 NAME VERSION SHA256 FILE_IN_PACKAGE DEST_NAME DEST_DIR CACHE_DIR NOTICE_NAME FEATURE" >&2; exit 2; }
name="$1"
version="$2"
sha256="$3"
file="$4"
dest_name="$5"
dest="$6"
cache="$7"
notice="$8"
feature="$9"
# npm pack's file name: @scope/pkg -> scope-pkg-VERSION.tgz, pkg -> pkg-VERSION.tgz
base="${name#@}"
base="${base//\//-}-$version"
tgz="$cache/$base.tgz"
mkdir -p "$dest" "$cache"
if [ ! -f "$tgz" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "ctcf: npm not found; report.html will have no $feature ($name $version not bundled)" >&2
        exit 0
    fi
    if ! (cd "$cache" && npm pack --silent "$name@$version" >/dev/null 2>&1); then
        echo "ctcf: could not fetch $name@$version from npm; report.html will have no $feature" >&2
        rm -f "$tgz"
        exit 0
    fi
fi
if ! echo "$sha256  $tgz" | sha256sum -c --status; then
    echo "ctcf: $tgz does not have the pinned SHA-256 $sha256 (got $(sha256sum "$tgz" | cut -d' ' -f1))" >&2
    rm -f "$tgz"
    exit 1
fi
unpacked="$cache/$base"
rm -rf "$unpacked"
mkdir -p "$unpacked"
# only what is bundled: the file, package.json and the package's license texts
listing=$(tar tzf "$tgz")
members=$(grep -E "^package/(package\.json|LICEN[CS]E[^/]*)$" <<<"$listing" || true)
grep -qxF "package/$file" <<<"$listing" || { echo "ctcf: $name@$version has no $file" >&2; exit 1; }
# shellcheck disable=SC2086
tar xzf "$tgz" -C "$unpacked" "package/$file" $members
cp "$unpacked/package/$file" "$dest/$dest_name"
field() {  # a top-level string field of package.json ("license", "homepage"), or empty
    if command -v node >/dev/null 2>&1; then
        node -e 'const p = require(process.argv[1]); const v = p[process.argv[2]];
                 process.stdout.write(typeof v === "string" ? v : (v && v.type) || "")' \
            "$unpacked/package/package.json" "$1"
    else
        grep -o "\"$1\": *\"[^\"]*\"" "$unpacked/package/package.json" | head -1 | cut -d'"' -f4
    fi
}
license="$(field license)"
homepage="$(field homepage)"
{
    echo "report.html embeds $name $version (${homepage:+$homepage, }npm $name, file $file),"
    echo "license: ${license:-see the package}."
    for l in "$unpacked"/package/LICEN[CS]E*; do
        [ -f "$l" ] || continue
        echo
        echo "--- $(basename "$l") of $name $version ---"
        cat "$l"
    done
} > "$dest/$notice"
