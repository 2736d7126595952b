#!/usr/bin/env bash
# What tools/dist_{train,test,predict}.sh share: start NPROC processes of a tool on
# torchrun with --launcher pytorch.
#   bash tools/dist_run.sh NPROC TOOL.py [tool args...]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR and PORT the same way on each.
# Without GPUs the tools run on the CPU with the gloo backend.
set -euo pipefail
NPROC=$1
TOOL=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-$( [ -x "$here/../.venv/bin/python" ] && echo "$here/../.venv/bin/python" || echo python)}
# Each process would otherwise start one OpenMP thread per core.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

exec "$PYTHON" -m torch.distributed.run \
  --nnodes="$NNODES" \
  --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$NPROC" \
  --master_port="$PORT" \
  "$TOOL" "$@" --launcher pytorch
