#!/usr/bin/env bash
# Set up xlt in ./.venv: the right torch build for this machine, then xlt itself.
#
#   bash scripts/setup.sh          # xlt
#   bash scripts/setup.sh --dev    # xlt plus the test tools
#
# torch: a machine with an NVIDIA GPU (nvidia-smi answers) gets PyPI's default
# Linux wheel, which is the CUDA build. A machine without one gets the CPU build
# (about 200 MB instead of several GB): first as a local wheel if pip can find
# one, else from PyTorch's CPU index. An existing torch in .venv is kept.
# Override with XLT_TORCH_SPEC (e.g. "torch==2.5.1") and XLT_TORCH_INDEX.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${XLT_VENV:-.venv}"
extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') already installed"
elif [[ -n "${XLT_TORCH_SPEC:-}" ]]; then
    "${PIP[@]}" install -q ${XLT_TORCH_INDEX:+--index-url "$XLT_TORCH_INDEX"} "$XLT_TORCH_SPEC"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU found: installing the CUDA build of torch"
    "${PIP[@]}" install -q "torch>=2.4"
else
    echo "no GPU found: installing the CPU build of torch"
    # A local CPU wheel (e.g. from a wheelhouse in pip's find-links) needs no download.
    "${PIP[@]}" install -q "torch==2.13.0+cpu" 2>/dev/null \
        || "${PIP[@]}" install -q --index-url "${XLT_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" torch
fi

"${PIP[@]}" install -q -e ".${extras}"
echo "xlt installed in $VENV"

# --dev: the code sandbox's tests run under bubblewrap too (and skip that path,
# saying why, without it). Installed only where that takes no question: as
# root, with apt-get. Never sudo, never a prompt; a failure is one line.
if [[ -n "$extras" ]] && ! command -v bwrap >/dev/null 2>&1 && [[ ! -x /usr/bin/bwrap ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (the code sandbox's preferred backend)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1 \
            && ! { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
                   && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1; }; then
            echo "bubblewrap not installed (apt-get failed); the sandbox uses its namespaces launcher"
        fi
    else
        echo "bubblewrap not installed (needs root and apt-get here); the sandbox uses its namespaces launcher"
    fi
fi
