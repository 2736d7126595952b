#!/usr/bin/env bash
# Train on a Slurm cluster (MMYOLO's slurm_train.sh conventions).
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# srun starts GPUS processes, GPUS_PER_NODE per machine; each runs tools/train.py
# with --launcher slurm, and MMEngine's slurm launcher starts the process group from
# Slurm's variables (MASTER_PORT, default 29500, may be exported beforehand).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
work_dir=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  work_dir=(--work-dir "$1")
  shift
fi
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/slurm_run.sh" "$PARTITION" "$JOB_NAME" "$here/train.py" \
  "$CONFIG" "${work_dir[@]}" "$@"
