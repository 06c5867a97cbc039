#!/usr/bin/env bash
# Regenerate requirements/lock.txt (exact versions + hashes of the whole dependency closure) from
# pyproject.toml (with its dev and ray extras), requirements/build.in and the pins in requirements/pins.txt, with uv's pip-compatible
# resolver, for every platform and Python >= 3.10 (--universal). Then re-run scripts/bootstrap.sh and
# refresh the notebook baselines under the new versions (README: "Updating the locked versions").
# Extra arguments go to `uv pip compile`, e.g. `scripts/lock.sh --upgrade-package timm`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV="$ROOT/.venv/bin/uv"
if [ ! -x "$UV" ]; then
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    python3 -m venv "$tmp/venv" && "$tmp/venv/bin/pip" install --quiet "uv>=0.9" && UV="$tmp/venv/bin/uv"
fi
"$UV" pip compile pyproject.toml requirements/build.in --extra dev --extra ray --universal --python-version 3.10 \
    --generate-hashes -c requirements/pins.txt -o requirements/lock.txt "$@"
echo "lock: wrote requirements/lock.txt; next: scripts/bootstrap.sh, then scripts/course.sh refresh all" >&2
