#!/usr/bin/env bash
# Train on a Slurm cluster (MMYOLO's slurm_train.sh conventions).
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] [REQUEUE=1] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# srun starts GPUS processes, GPUS_PER_NODE per machine; each runs tools/train.py
# with --launcher slurm, and MMEngine's slurm launcher starts the process group from
# Slurm's variables (MASTER_PORT, default 29500, may be exported beforehand).
#
# Preemption and time limits: train.py runs with --resume (before your arguments, so
# an explicit --resume PATH wins): it continues from the work dir's latest checkpoint,
# or starts afresh when there is none. On SIGTERM, which Slurm sends every process of
# a job it preempts (and, with `sbatch --signal=TERM@120`, two minutes before the time
# limit; `--signal=B:TERM@120` sends it to this script, which forwards it to srun),
# training finishes its iteration, saves iter_N_interrupted.pth and exits with status
# 143. Inside a batch job this script then requeues it (`scontrol requeue
# $SLURM_JOB_ID`; submit with `sbatch --requeue`), and the requeued job, running this
# script again, continues inside the epoch where it stopped. REQUEUE=0: no requeue.
# Give the signal time to be acted on: an iteration plus writing a checkpoint
# (Slurm's GraceTime for preemption, the @ seconds of --signal).
#   sbatch --requeue --signal=B:TERM@120 -p PART --gres=gpu:8 --ntasks=1 \
#     --wrap "bash tools/slurm_train.sh PART job configs/baseline.py"
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
# srun runs in the background so that a SIGTERM to this script reaches it at once
# (srun forwards it to the tasks); then the script waits for the tasks' verdict.
bash "$here/slurm_run.sh" "$PARTITION" "$JOB_NAME" "$here/train.py" \
  "$CONFIG" --resume "${work_dir[@]}" "$@" &
srun_pid=$!
trap 'forwarded=1; kill -TERM "$srun_pid" 2>/dev/null || true' TERM
while :; do
  forwarded=0 status=0
  wait "$srun_pid" || status=$?
  # a wait the trap interrupted returns 128 + 15 at once: wait for srun's own status
  [ "$forwarded" = 1 ] && [ "$status" -gt 128 ] || break
done
if [ "$status" -eq 143 ] && [ "${REQUEUE:-1}" = 1 ]; then
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "training stopped on SIGTERM after saving a checkpoint: requeueing job $SLURM_JOB_ID" >&2
    scontrol requeue "$SLURM_JOB_ID" || echo "scontrol requeue failed: resubmit the same command to continue" >&2
  else
    echo "training stopped on SIGTERM after saving a checkpoint; not in a batch job (no SLURM_JOB_ID), so nothing is requeued: run the same command to continue" >&2
  fi
fi
exit "$status"
