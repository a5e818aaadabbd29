#!/usr/bin/env bash
# Create .venv with the pinned environment (constraints.txt) and, where we can, install TeX.
# Usage: bash scripts/setup.sh [--dev] [--no-tex]   (PYTHON=python3.12 to pick the interpreter; >= 3.11)
# Installs every extra ([all]; with --dev also pytest, ruff); `pip install fpe-theory` alone is the theory.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="all"
tex=1
for arg in "$@"; do
  case "$arg" in
    --dev) extras="all,dev" ;;
    --no-tex) tex=0 ;;
    *) echo "setup: unknown option '$arg' (use --dev, --no-tex)" >&2; exit 2 ;;
  esac
done
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: needs Python >= 3.11 ($python is $("$python" -V 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[$extras]"
# the CPU kernel prebuilt for this machine (fpe_train/engine/aot.py): a process that trains starts without numba
.venv/bin/python -m fpe_train.engine.aot >/dev/null \
  || echo "setup: could not prebuild the CPU kernel (a C compiler?); numba's JIT serves, slower to start" >&2
# the other numba functions a first report compiles (the deep epoch, the Monte Carlo), compiled into numba's cache
.venv/bin/python scripts/warm_caches.py >/dev/null \
  || echo "setup: could not compile numba's caches ahead; a first report compiles them as it runs" >&2
if [ "$tex" = 1 ] && ! { command -v latexmk && command -v pdftotext; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing TeX (texlive-latex-base, latexmk) and poppler-utils with apt-get" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk poppler-utils; } >/dev/null 2>&1 \
      || echo "setup: could not install TeX; reports are written as .tex without a PDF" >&2
  else
    echo "setup: no latexmk and no root apt-get; reports are written as .tex without a PDF" >&2
  fi
fi
