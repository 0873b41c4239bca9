#!/usr/bin/env bash
# Screenshot an HTML report with headless Chromium, to check it renders (offline).
#
#   bench/screenshot_report.sh report.html [out.png] [width] [height]
#
# Needs Debian's `chromium` package (apt-get install -y chromium). Runs with no network
# services, no sandbox (it is usually run as root in containers) and a throw-away profile.
set -euo pipefail
html=${1:?usage: $0 REPORT.html [OUT.png] [WIDTH] [HEIGHT]}
png=${2:-${html%.html}.png}
width=${3:-1280}
height=${4:-2000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "no chromium found (apt-get install -y chromium)" >&2
  exit 2
fi
# a short path, also as its TMPDIR: Chromium aborts when its singleton socket path is too long
profile=$(mktemp -d /tmp/lgchrome.XXXXXX)
trap 'rm -rf "$profile"' EXIT
url="file://$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
png_abs="$(cd "$(dirname "$png")" && pwd)/$(basename "$png")"
TMPDIR="$profile" timeout 60 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-default-apps --hide-scrollbars --user-data-dir="$profile" \
  --window-size="$width,$height" --screenshot="$png_abs" "$url" >"${CHROMIUM_LOG:-/dev/null}" 2>&1
test -s "$png_abs"
echo "$png_abs"
