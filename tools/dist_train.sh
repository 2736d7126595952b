#!/usr/bin/env bash
# Distributed training on torchrun.
#   bash tools/dist_train.sh CONFIG NPROC [train.py args...]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR and PORT the same way on each.
# Without GPUs it trains on the CPU with the gloo backend (tools/train.py picks it).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash tools/dist_train.sh CONFIG NPROC [train.py args...]" >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/dist_run.sh" "$NPROC" "$here/train.py" "$CONFIG" "$@"
