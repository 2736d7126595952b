#!/usr/bin/env bash
# Predict the test set with NPROC processes on torchrun; rank 0 writes the files.
#   bash tools/dist_predict.sh [CONFIG] [CHECKPOINT ...] NPROC --data-root DATA \
#       --ann-dir DATA/annotations [predict.py options...]
# NPROC is the first argument that is a whole number; what precedes it goes to
# tools/predict.py as its CONFIG and CHECKPOINTs, what follows as its options.
# Several machines: NNODES, NODE_RANK, MASTER_ADDR, PORT (tools/dist_run.sh).
set -euo pipefail
paths=()
while [ $# -gt 0 ] && ! [[ $1 =~ ^[0-9]+$ ]]; do
  paths+=("$1")
  shift
done
if [ $# -lt 1 ]; then
  echo "usage: bash tools/dist_predict.sh [CONFIG] [CHECKPOINT ...] NPROC [predict.py options...]" >&2
  exit 2
fi
NPROC=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/dist_run.sh" "$NPROC" "$here/predict.py" "${paths[@]}" "$@"
