"""What a finished run records and who reads it (issue 26), without training:
records written as the checkpoint hook writes them, read by the next stage's
``final_checkpoint_of``, ``tools/stage_status.py``'s ``final_checkpoint`` and
``tools/predict.py``'s choice of the last finished stage. Real runs write them in
tests/integration/test_field_path.py and tests/parkdet_mm/engine/test_training_controls.py."""
import os
import time
from pathlib import Path

import pytest
import torch
from conftest import write_tiny_config

from parkdet_challenge.errors import InputError
from parkdet_mm.config import (
    final_checkpoint,
    final_checkpoint_of,
    finished_checkpoint,
    finished_run_in,
    last_finished_stage,
    load_config,
    read_finished_run,
    write_finished_run,
)


def finish(work: Path, name: str, epochs: int, max_epochs: int, config: Path,
           stopped_early: bool = False, age: float = 0.0) -> Path:
    """A run in ``work`` that ended with checkpoint ``name``, ``age`` seconds ago."""
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = work / name
    torch.save(dict(state_dict={}, meta=dict(epoch=epochs)), checkpoint)
    stamp = time.time() - age
    os.utime(checkpoint, (stamp, stamp))
    write_finished_run(str(work), str(checkpoint), epochs, max_epochs,
                       stopped_early, str(config))
    return checkpoint


@pytest.fixture
def stage(tmp_path, tiny_coco) -> Path:
    """A 2-epoch training config whose work dir is tmp/work."""
    config = write_tiny_config(tmp_path / 'stage.py', tiny_coco, epochs=2)
    with open(config, 'a') as f:
        f.write(f"work_dir = {str(tmp_path / 'work')!r}\n")
    return config


def test_record_is_relative_to_its_work_dir(tmp_path, stage):
    finish(tmp_path / 'work', 'epoch_1.pth', 1, 1, stage)
    (tmp_path / 'work').rename(tmp_path / 'moved')
    record = read_finished_run(str(tmp_path / 'moved'))
    assert record['final_checkpoint'] == str(tmp_path / 'moved' / 'epoch_1.pth')
    assert (record['epochs'], record['max_epochs'], record['stopped_early'],
            record['config']) == (1, 1, False, str(stage))
    (tmp_path / 'moved' / 'finished.json').write_text('{"final_chec')  # cut short
    assert read_finished_run(str(tmp_path / 'moved')) is None


def test_a_shortened_run_is_what_the_next_stage_takes_but_not_the_stage(tmp_path,
                                                                        stage):
    work = tmp_path / 'work'
    cfg = load_config(str(stage))
    assert final_checkpoint(cfg) == finished_checkpoint(cfg) == str(
        work / 'epoch_2.pth')  # no record: the names' rule
    finish(work, 'epoch_1.pth', 1, 1, stage)  # train.py STAGE --epochs 1
    # the next stage and predict take what the run ended with
    assert final_checkpoint_of(str(stage)) == finished_checkpoint(cfg) == str(
        work / 'epoch_1.pth')
    # the stage with its own 2 epochs is not finished by it; with --epochs 1 it is
    assert final_checkpoint(cfg) == str(work / 'epoch_2.pth')
    assert final_checkpoint(load_config(str(stage), primaries=dict(
        max_epochs=1))) == str(work / 'epoch_1.pth')
    # early stopping: the record names best.pth for the stage's own epochs
    finish(work, 'best.pth', 2, 2, stage, stopped_early=True)
    assert final_checkpoint(cfg) == final_checkpoint_of(str(stage)) == str(
        work / 'best.pth')


def test_predict_takes_the_last_stage_to_finish(tmp_path, tiny_coco):
    configs = []
    for name in ('finetune', 'baseline'):
        config = write_tiny_config(tmp_path / f'{name}.py', tiny_coco)
        with open(config, 'a') as f:
            f.write(f"work_dir = {str(tmp_path / name)!r}\n")
        configs.append(str(config))
    with pytest.raises(InputError, match='none of .*finetune.py .* has finished'):
        last_finished_stage(configs)
    baseline = finish(tmp_path / 'baseline', 'epoch_1.pth', 1, 1, configs[1],
                      age=60)
    cfg, checkpoint = last_finished_stage(configs)  # a baseline-only user
    assert (cfg.filename, checkpoint) == (configs[1], str(baseline))
    finetune = finish(tmp_path / 'finetune', 'epoch_1.pth', 1, 1, configs[0])
    cfg, checkpoint = last_finished_stage(configs)
    assert (cfg.filename, checkpoint) == (configs[0], str(finetune))
    # a folder of stages (train_pipeline.sh --work-dir), or one run's folder
    assert finished_run_in(str(tmp_path)) == (configs[0], str(finetune),
                                              str(tmp_path / 'finetune'))
    assert finished_run_in(str(tmp_path / 'baseline')) == (
        configs[1], str(baseline), str(tmp_path / 'baseline'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(InputError, match='no finished training run there'):
        finished_run_in(str(tmp_path / 'empty'))
