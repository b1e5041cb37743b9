#!/usr/bin/env bash
# Set everything up and run the main job (the tour) on embedded data: no download.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$root/scripts/setup.sh" none
out="${1:-$root/runs/tour-$(date +%Y%m%d-%H%M%S)}"
replearn run tour --out "$out"
echo "open $out/index.html"
