#!/usr/bin/env bash
# `make ui-assets`: the dashboard's browser libraries, from npm at the versions of
# services/api/ui-assets/package-lock.json, copied into the api package's static dir with their
# licences and a VERSIONS file. The result is committed: the api (and `make demo`) needs no npm.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
assets="$here/services/api/ui-assets"
vendor="$here/services/api/src/rebal_api/static/vendor"
command -v npm >/dev/null || { echo "ui-assets: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
(cd "$assets" && npm ci --no-audit --no-fund --ignore-scripts --silent)
mkdir -p "$vendor"
modules="$assets/node_modules"
cp "$modules/htmx.org/dist/htmx.min.js" "$vendor/htmx.min.js"
cp "$modules/htmx.org/LICENSE" "$vendor/htmx.LICENSE"
cp "$modules/chart.js/dist/chart.umd.min.js" "$vendor/chart.umd.min.js"
cp "$modules/chart.js/LICENSE.md" "$vendor/chart.js.LICENSE.md"
cp "$modules/@kurkle/color/LICENSE.md" "$vendor/kurkle-color.LICENSE.md"  # bundled in chart.umd
version() { node -p "require('$modules/$1/package.json').version"; }
{
  echo "# The dashboard's vendored libraries (make ui-assets; from services/api/ui-assets/package-lock.json)"
  echo "htmx.org $(version htmx.org) htmx.min.js (BSD Zero Clause: htmx.LICENSE)"
  echo "chart.js $(version chart.js) chart.umd.min.js (MIT: chart.js.LICENSE.md)"
  echo "@kurkle/color $(version @kurkle/color) bundled in chart.umd.min.js (MIT: kurkle-color.LICENSE.md)"
} >"$vendor/VERSIONS"
echo "ui-assets: $(tail -n +2 "$vendor/VERSIONS" | cut -d' ' -f1,2 | paste -sd, -) in ${vendor#"$here"/}"
