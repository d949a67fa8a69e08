#!/usr/bin/env bash
# Installs the browser-test tooling (playwright-core, pinned with integrity hashes in package-lock.json) into
# tests/browser/node_modules with `npm ci`. Run by Maven (execution browser-test-tools, generate-test-resources) under
# CTCF_TEST_TOOLS=1 or -Dctcf.browser.tools=true. Fast when the pinned version is already there. playwright-core
# downloads no browser: the tests drive the system's Chromium. Without npm or network it says so and exits 0; the
# browser tests then fail under CTCF_TEST_TOOLS=1 and skip otherwise.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "ctcf: node/npm not found; browser tests cannot run (install nodejs and npm; .ci/env.sh does on Debian)" >&2
    exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    echo "ctcf: node $(node --version) is too old for playwright-core (needs >= 20); browser tests cannot run" >&2
    exit 0
fi
want=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')
have=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch (e) { console.log("") }')
if [ "$have" = "$want" ]; then
    echo "ctcf: playwright-core $have already installed in tests/browser/node_modules" >&2
    exit 0
fi
echo "ctcf: installing playwright-core $want into tests/browser/node_modules (npm ci)" >&2
if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2; then
    echo "ctcf: npm ci failed (offline?); browser tests cannot run" >&2
    exit 0
fi
