#!/usr/bin/env bash
# Both training stages in order: baseline, then finetune from the checkpoint the
# baseline ended with.
#   bash tools/train_pipeline.sh [BASELINE_CONFIG [FINETUNE_CONFIG]] [--] [train.py args...]
#   bash tools/train_pipeline.sh 2021 [--] [train.py args...]   # the 2021 recipe
# Defaults: configs/baseline.py and configs/finetune.py (the 2022 recipe; "2022" names
# them too); "2021": configs/challenge2021/{baseline,finetune}.py, FOLD=k in the
# environment trains fold k of tools/prepare_data.py --folds. NPROC > 1 trains each stage
# with tools/dist_train.sh.
#
# The train.py args (--data-root, --ann-dir, --epochs, --img-size, --cfg-options, ...)
# go to both stages, and each stage's status is checked with the same args
# (tools/stage_status.py). --work-dir DIR is the pipeline's folder: each stage trains
# in DIR/<its config's name> (DIR/baseline, DIR/finetune; _fold{k} added under FOLD),
# and `python tools/predict.py DIR` predicts with the stage that finished last.
# The finetune always starts from the checkpoint the baseline ended with (its
# finished.json: epoch_N.pth, or best.pth after early stopping), passed as
# --cfg-options load_from=...
#
# A stage is finished when its final checkpoint is complete and readable; one that is
# not, whether interrupted or killed while writing that checkpoint, continues from its
# latest checkpoint (train.py --resume), a finished one is not run again, so re-running
# the same command after a crash picks up where it stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  2021) BASELINE=configs/challenge2021/baseline.py FINETUNE=configs/challenge2021/finetune.py
        shift ;;
  2022) BASELINE=configs/baseline.py FINETUNE=configs/finetune.py
        shift ;;
  ""|-*) BASELINE=configs/baseline.py FINETUNE=configs/finetune.py ;;
  *) BASELINE=$1
     shift
     FINETUNE=configs/finetune.py
     if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
       FINETUNE=$1
       shift
     fi ;;
esac
[ "${1:-}" = "--" ] && shift
NPROC=${NPROC:-1}
PYTHON=${PYTHON:-$( [ -x "$here/../.venv/bin/python" ] && echo "$here/../.venv/bin/python" || echo python)}

# The train.py args without --work-dir, which is the pipeline's folder.
EXTRA=()
WORK_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --work-dir) [ $# -ge 2 ] || { echo "error: --work-dir needs a folder" >&2; exit 2; }
                WORK_DIR=$2; shift 2 ;;
    --work-dir=*) WORK_DIR=${1#--work-dir=}; shift ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done

stage_args() {  # $1: config; the args train.py and stage_status.py get for it
  STAGE_ARGS=("${EXTRA[@]}")
  if [ -n "$WORK_DIR" ]; then
    STAGE_ARGS+=(--work-dir "$WORK_DIR/$(basename "$1" .py)${FOLD:+_fold$FOLD}")
  fi
}

final_of() {  # $1: config, then its args; prints its final checkpoint, status 0 if finished
  # Its last line: MMEngine logs to stdout when FOLD is substituted into a config.
  # Status 0: finished; 1: not (it says why on stderr); 2: a bad config or flag.
  "$PYTHON" "$here/stage_status.py" "$@" | tail -n 1
  return "${PIPESTATUS[0]}"
}

run_stage() {  # $1: config, then what its train.py gets besides STAGE_ARGS
  local config=$1 final status=0
  shift
  final=$(final_of "$config" "${STAGE_ARGS[@]}" "$@") || status=$?
  if [ "$status" -eq 0 ]; then
    echo "== $config: done ($final)"
    return
  fi
  [ "$status" -eq 1 ] || exit 2
  echo "== $config: training (resuming if it was interrupted)"
  if [ "$NPROC" -gt 1 ]; then
    bash "$here/dist_train.sh" "$config" "$NPROC" --resume "${STAGE_ARGS[@]}" "$@"
  else
    "$PYTHON" "$here/train.py" "$config" --resume "${STAGE_ARGS[@]}" "$@"
  fi
}

stage_args "$BASELINE"
run_stage "$BASELINE"
baseline_final=$(final_of "$BASELINE" "${STAGE_ARGS[@]}") || {
  echo "error: $BASELINE did not finish: $baseline_final" >&2
  exit 1
}
stage_args "$FINETUNE"
run_stage "$FINETUNE" --cfg-options "load_from=$baseline_final"
