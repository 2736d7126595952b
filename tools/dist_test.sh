#!/usr/bin/env bash
# Evaluate a checkpoint with NPROC processes on torchrun (MMYOLO's dist_test.sh).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
# Several machines: NNODES, NODE_RANK, MASTER_ADDR, PORT (tools/dist_run.sh).
# Without GPUs the processes run on the CPU with gloo.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]" >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/dist_run.sh" "$NPROC" "$here/test.py" "$CONFIG" "$CHECKPOINT" "$@"
