#!/usr/bin/env bash
# Both training stages in order: baseline, then finetune from its last checkpoint.
#   bash tools/train_pipeline.sh [BASELINE_CONFIG] [FINETUNE_CONFIG] [-- train.py args...]
#   bash tools/train_pipeline.sh 2021 [-- train.py args...]   # the 2021 recipe
# Defaults: configs/baseline.py and configs/finetune.py (the 2022 recipe; "2022" names
# them too); "2021": configs/challenge2021/{baseline,finetune}.py, FOLD=k in the
# environment trains fold k of tools/prepare_data.py --folds. NPROC > 1 trains each stage
# with tools/dist_train.sh. A stage is finished when its final checkpoint is complete
# and readable (tools/stage_status.py); one that is not, whether interrupted or
# killed while writing that checkpoint, continues from its latest checkpoint
# (train.py --resume), a finished one is not run again, so re-running the same
# command after a crash picks up where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  2021) BASELINE=configs/challenge2021/baseline.py FINETUNE=configs/challenge2021/finetune.py
        shift ;;
  2022) BASELINE=configs/baseline.py FINETUNE=configs/finetune.py
        shift ;;
  *) BASELINE=${1:-configs/baseline.py}
     FINETUNE=${2:-configs/finetune.py}
     shift $(( $# < 2 ? $# : 2 )) ;;
esac
[ "${1:-}" = "--" ] && shift
NPROC=${NPROC:-1}
PYTHON=${PYTHON:-$( [ -x "$here/../.venv/bin/python" ] && echo "$here/../.venv/bin/python" || echo python)}

run_stage() {  # $1: config
  local final status=0
  # Its last line: MMEngine logs to stdout when FOLD is substituted into a config.
  # Status 0: finished; 1: not (it says why on stderr); 2: the config is unreadable.
  final=$("$PYTHON" "$here/stage_status.py" "$1" | tail -n 1) || status=$?
  if [ "$status" -eq 0 ]; then
    echo "== $1: done ($final)"
    return
  fi
  [ "$status" -eq 1 ] || exit 2
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
