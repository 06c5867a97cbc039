#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the package with its dev extra.
# Idempotent: it reinstalls only when pyproject.toml changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MER_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.mer-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "bootstrap: '$PY' not found. Install Python >= 3.10 or set PYTHON=/path/to/python3." >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating virtual environment $VENV" >&2
    "$PY" -m venv "$VENV"
fi
echo "bootstrap: installing mer-utils[dev] and its dependencies into $VENV (first time: a few minutes)" >&2
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mer-course)" >/dev/null
echo "$want" > "$STAMP"
