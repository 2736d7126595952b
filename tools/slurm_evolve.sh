#!/usr/bin/env bash
# Start WORKERS workers of one hyper-parameter search (tools/evolve.py) on Slurm.
#   [WORKERS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] [PYTHON=...] \
#   bash tools/slurm_evolve.sh PARTITION JOB_NAME WORKERS CONFIG [evolve.py args...]
# srun starts WORKERS independent tasks, one GPU each (not one distributed run),
# WORKERS_PER_NODE per machine; every task runs tools/evolve.py CONFIG with your
# arguments, so all of them open the same study (same --work-dir, --study-name and
# --storage) and Optuna hands each its own trials. Give a database every machine
# reaches, e.g. --storage postgresql://USER:PASS@HOST/DB: the default SQLite file in
# the work dir serves the workers of one machine, and its locks are unreliable on
# network file systems. A worker that fails leaves the others running; run the same
# command again to resume (trials a dead worker left are run again), or start more
# workers at any time, e.g. as a job array:
#   sbatch --array=0-7 --gres=gpu:1 -p PART --wrap "python tools/evolve.py CONFIG --storage URL"
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash tools/slurm_evolve.sh PARTITION JOB_NAME WORKERS CONFIG [evolve.py args...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
WORKERS=$3
CONFIG=$4
shift 4
WORKERS_PER_NODE=${WORKERS_PER_NODE:-8}
[ "$WORKERS_PER_NODE" -gt "$WORKERS" ] && WORKERS_PER_NODE=$WORKERS
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-$( [ -x "$here/../.venv/bin/python" ] && echo "$here/../.venv/bin/python" || echo python)}
case " $* " in
  *" --storage "*) ;;
  *) [ "$WORKERS" -gt "$WORKERS_PER_NODE" ] && echo "warning: $WORKERS workers on several machines share a SQLite file; pass --storage postgresql://... (or mysql://...)" >&2 ;;
esac

set -x
# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
exec srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  --ntasks="$WORKERS" \
  --ntasks-per-node="$WORKERS_PER_NODE" \
  --gpus-per-task=1 \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=0 \
  ${SRUN_ARGS} \
  "$PYTHON" -u "$here/evolve.py" "$CONFIG" "$@"
