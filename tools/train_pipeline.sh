#!/usr/bin/env bash
# Both training stages in order: baseline, then finetune from its last checkpoint.
#   bash tools/train_pipeline.sh [BASELINE_CONFIG] [FINETUNE_CONFIG] [-- train.py args...]
# Defaults: configs/baseline.py and configs/finetune.py. NPROC > 1 trains each stage
# with tools/dist_train.sh. A stage that was interrupted continues from its latest
# checkpoint (train.py --resume), a finished one is not run again, so re-running the
# same command after a crash picks up where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASELINE=${1:-configs/baseline.py}
FINETUNE=${2:-configs/finetune.py}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
NPROC=${NPROC:-1}
PYTHON=${PYTHON:-$( [ -x "$here/../.venv/bin/python" ] && echo "$here/../.venv/bin/python" || echo python)}

run_stage() {  # $1: config
  local final
  final=$("$PYTHON" "$here/stage_status.py" "$1") || exit 2
  if [ -f "$final" ]; then
    echo "== $1: done ($final)"
    return
  fi
  echo "== $1: training (resuming if it was interrupted)"
  if [ "$NPROC" -gt 1 ]; then
    bash "$here/dist_train.sh" "$1" "$NPROC" --resume "${EXTRA[@]}"
  else
    "$PYTHON" "$here/train.py" "$1" --resume "${EXTRA[@]}"
  fi
}

EXTRA=("$@")
run_stage "$BASELINE"
run_stage "$FINETUNE"
