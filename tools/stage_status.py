"""Print the path of the final checkpoint a training config writes; exit 0 when
that stage is finished (the checkpoint is complete and readable), 1 when not.

    python tools/stage_status.py CONFIG     # e.g. work_dirs/baseline/epoch_50.pth

tools/train_pipeline.sh uses it to skip a stage that already finished, and to
resume one whose final checkpoint is missing or was cut short. Status 2: the
config cannot be read.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

from parkdet_challenge.cli import InputError, run_cli
from parkdet_mm.utils.checkpoint import CheckpointFileError, check_checkpoint_file
from parkdet_mm.utils.setup_run import default_work_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    args = parser.parse_args()
    if not osp.isfile(args.config):
        raise InputError(f'config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    # Same rule as tools/train.py: the config's work_dir or one named after it.
    work_dir = cfg.get('work_dir') or default_work_dir(args.config)
    final = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    print(final)
    try:
        check_checkpoint_file(final)
    except CheckpointFileError as err:
        print(f'not finished: {err}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    run_cli(main)
