#!/usr/bin/env bash
# Create .venv and install replearn into it: `source scripts/setup.sh [dev|bench|none]`.
# On a machine without an NVIDIA GPU the CPU build of torch is installed first
# (torch==2.13.0; an unpinned torch would pull a multi-GB CUDA build).
set -euo pipefail
extra="${1:-none}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${REPLEARN_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    pip install -qq "torch>=2.4"
  else
    pip install -qq "torch==2.13.0" || pip install -qq "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
  fi
fi
case "$extra" in
  none) spec="$root" ;;
  *) spec="$root[$extra]" ;;
esac
pip install -qq -e "$spec"
