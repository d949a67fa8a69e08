#!/usr/bin/env bash
# Bundles NiiVue (BSD-2-Clause) into the jar for report.html's offline 3-D viewer: `npm pack` of a pinned version,
# checked against its SHA-256, cached under the build folder; the single-file UMD build goes to the resources.
# Without npm or network the build goes on and report.html says that it has no viewer.
set -euo pipefail
version="$1"
sha256="$2"
dest="$3"
cache="$4"
tgz="$cache/niivue-niivue-$version.tgz"
mkdir -p "$dest" "$cache"
if [ ! -f "$tgz" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "ctcf: npm not found; report.html will have no 3-D viewer" >&2
        exit 0
    fi
    if ! (cd "$cache" && npm pack --silent "@niivue/niivue@$version" >/dev/null 2>&1); then
        echo "ctcf: could not fetch @niivue/niivue@$version from npm; report.html will have no 3-D viewer" >&2
        rm -f "$tgz"
        exit 0
    fi
fi
if ! echo "$sha256  $tgz" | sha256sum -c --status; then
    echo "ctcf: $tgz does not have the pinned SHA-256 $sha256" >&2
    rm -f "$tgz"
    exit 1
fi
tar xzf "$tgz" -C "$cache" package/dist/niivue.umd.js package/package.json
cp "$cache/package/dist/niivue.umd.js" "$dest/niivue.umd.js"
cat > "$dest/niivue-NOTICE.txt" <<NOTICE
report.html embeds NiiVue $version (https://github.com/niivue/niivue, npm @niivue/niivue),
license: $(grep -o '"license": *"[^"]*"' "$cache/package/package.json" | cut -d'"' -f4). See https://github.com/niivue/niivue/blob/main/LICENSE.
NOTICE
