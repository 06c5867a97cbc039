#!/usr/bin/env bash
# Run the course: set up .venv if needed, generate the default synthetic data when missing, execute every
# notebook headless with papermill, and write executed notebooks + summary under runs/<stamp>-<profile>/.
#   scripts/course.sh                                   # all notebooks, quick profile
#   scripts/course.sh --notebook 10 --profile full      # one notebook, the paper's settings
#   scripts/course.sh --notebook 30 -p EPOCHS 5         # pass notebook parameters
#   scripts/course.sh --profile full --executor ray     # notebooks as Ray tasks, one GPU each (README: Ray)
#   scripts/course.sh list                              # notebooks and their parameters
#   scripts/course.sh plan --profile full [--json]      # cost plan: GPU-hours, memory, disk per notebook
#   scripts/course.sh site [--run runs/<stamp>-<profile>]   # HTML site from executed notebooks (runs/site/html)
#   scripts/course.sh disk [--remove NAME ...]          # caches, results and data on disk; remove folders you name
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
cd "$ROOT"
case "${1:-}" in
    list|refresh|run|plan|site|disk) exec "$ROOT/.venv/bin/python" -m mer_utils.course "$@" ;;
    *) exec "$ROOT/.venv/bin/python" -m mer_utils.course run "$@" ;;
esac
