#!/usr/bin/env bash
# Predict the test set on a Slurm cluster; rank 0 writes the submission.
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_predict.sh PARTITION JOB_NAME [CONFIG] [CHECKPOINT ...] \
#       --data-root DATA --ann-dir DATA/annotations [predict.py options...]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash tools/slurm_predict.sh PARTITION JOB_NAME [CONFIG] [CHECKPOINT ...] [predict.py options...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/slurm_run.sh" "$PARTITION" "$JOB_NAME" "$here/predict.py" "$@"
