"""Print the path of the final checkpoint a training config writes; exit 0 when
that stage is finished (the checkpoint is complete and readable), 1 when not.

    python tools/stage_status.py CONFIG     # e.g. work_dirs/baseline/epoch_50.pth

tools/train_pipeline.sh uses it to skip a stage that already finished, and to
resume one whose final checkpoint is missing or was cut short. The path is
parkdet_mm.config.final_checkpoint's, the rule the fine-tune configs and
tools/predict.py use to find a stage's last checkpoint. Status 2: the config
cannot be read.
"""
import argparse
import sys

from parkdet_challenge.cli import run_cli
from parkdet_mm.config import final_checkpoint, load_config
from parkdet_mm.engine.checkpoint import CheckpointFileError, check_checkpoint_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    args = parser.parse_args()
    final = final_checkpoint(load_config(args.config))
    print(final)
    try:
        check_checkpoint_file(final)
    except CheckpointFileError as err:
        print(f'not finished: {err}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    run_cli(main)
