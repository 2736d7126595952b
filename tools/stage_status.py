"""Print the path of the final checkpoint a training command ends with; exit 0 when
that stage is finished (the checkpoint is complete and readable), 1 when not.

    python tools/stage_status.py CONFIG [train.py flags ...]
    # e.g. work_dirs/baseline/epoch_50.pth

It takes tools/train.py's arguments and reads the config as train.py does with them
(--epochs, --work-dir, --data-root, --cfg-options, ...), so the same flags name the
same stage. The path is parkdet_mm.config.final_checkpoint's: the one the work dir's
record (finished.json, written when a run finishes) names, when that run was set to
train as many epochs; else epoch_{max_epochs}.pth (best.pth after early stopping).
tools/train_pipeline.sh uses it to skip a stage that already finished, and to resume
one whose final checkpoint is missing or was cut short. Status 2: the config or a
flag is bad.
"""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

from parkdet_challenge.errors import run_cli
from parkdet_mm.apis.run_setup import config_from_args
from parkdet_mm.config import final_checkpoint
from parkdet_mm.engine.checkpoint import CheckpointFileError, check_checkpoint_file


def train_tool() -> ModuleType:
    """tools/train.py, for its flags and how it turns them into a config."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), 'train.py')
    spec = importlib.util.spec_from_file_location('parkdet_train_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    train = train_tool()
    args = train.parse_args()
    cfg = config_from_args(args, train.flag_primaries(args),
                           train.hyp_primaries(args))
    final = final_checkpoint(cfg)
    print(final)
    try:
        check_checkpoint_file(final)
    except CheckpointFileError as err:
        print(f'not finished: {err}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    run_cli(main)
