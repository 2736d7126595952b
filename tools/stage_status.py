"""Print the path of the final checkpoint a training config writes.

    python tools/stage_status.py CONFIG     # e.g. work_dirs/baseline/epoch_50.pth

tools/train_pipeline.sh uses it to skip a stage that already finished. The path is
parkdet_mm.config.final_checkpoint's, the rule the fine-tune configs and
tools/predict.py use to find a stage's last checkpoint.
"""
import argparse

from parkdet_challenge.cli import run_cli
from parkdet_mm.config import final_checkpoint, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    args = parser.parse_args()
    print(final_checkpoint(load_config(args.config)))


if __name__ == '__main__':
    run_cli(main)
