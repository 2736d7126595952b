"""Print the path of the final checkpoint a training config writes.

    python tools/stage_status.py CONFIG     # e.g. work_dirs/baseline/epoch_50.pth

tools/train_pipeline.sh uses it to skip a stage that already finished.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from parkdet_challenge.cli import InputError, run_cli
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
    print(osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth'))


if __name__ == '__main__':
    run_cli(main)
