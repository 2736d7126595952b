#!/usr/bin/env bash
# Evaluate a checkpoint on a Slurm cluster (MMYOLO's slurm_test.sh conventions).
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/slurm_run.sh" "$PARTITION" "$JOB_NAME" "$here/test.py" "$@"
