#!/usr/bin/env bash
# Run the tests: set up .venv if needed, then pytest (unit tests, notebook structure tests, papermill runs
# of every notebook with its tiny `ci` profile) plus nbval over the committed notebooks (their stored
# outputs are the regression baseline). Extra arguments go to pytest, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
# --dist loadfile keeps the cells of one notebook on one worker (nbval runs them in one kernel, in order).
# Same environment as `mer_utils.course refresh`, which stored the notebooks' outputs: one thread per
# process (two test workers on two cores), no progress bars, fresh result store and cache.
# CPU only (CUDA_VISIBLE_DEVICES=""): the baselines are CPU runs (mer_utils.course.REPRODUCIBLE_ENV).
# MER_HEADLESS=1: the interactive explorers (mer_utils.explore) draw static figures, as in the stored outputs.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TQDM_DISABLE=1 PYTHONHASHSEED=0 HF_HUB_OFFLINE=1 MER_HEADLESS=1 CUDA_VISIBLE_DEVICES=
# Folds in the notebook process (tests/test_ray.py starts its own Ray instance).
export MER_EXECUTOR=local
# The baselines hold only under the locked versions: stop here, with the differences, if .venv is not the lock.
"$ROOT/.venv/bin/python" -m mer_utils.envcheck
# (no MPLBACKEND: notebooks draw with the inline backend, as when their outputs were stored)
unset MPLBACKEND
TMP_ROOT="$(mktemp -d)"
trap 'rm -rf "$TMP_ROOT"' EXIT
export MER_RESULTS_ROOT="$TMP_ROOT/results" MER_CACHE_ROOT="$TMP_ROOT/cache" MER_RUN_DIR="$TMP_ROOT/run"
# The synthetic quick data is generated once (it is user data: kept in data/synthetic/ between runs).
"$ROOT/.venv/bin/python" -c "from mer_utils.data.synthetic import ensure_synthetic; ensure_synthetic('quick')"
WORKERS="${MER_TEST_WORKERS:-2}"
exec "$ROOT/.venv/bin/python" -m pytest -n "$WORKERS" --dist loadfile \
    --nbval --nbval-current-env --nbval-cell-timeout 900 --nbval-sanitize-with tests/nbval_sanitize.cfg \
    -p no:cacheprovider tests notebooks "$@"
