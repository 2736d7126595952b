"""The stack works as installed: registration, checkpoints under weights_only, and the
train -> resume -> load_from -> test cycle through the tools."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    REPO,
    assert_one_line_error,
    assert_records_are_detections,
    model_detections,
    run_tool,
    write_tiny_config,
)


def test_import_registers_once_and_keeps_mmcv_ops():
    code = '''
import importlib
import torch
from mmyolo.registry import DATA_SAMPLERS, HOOKS, METRICS
import parkdet_mm
sizes = [len(r.module_dict) for r in (DATA_SAMPLERS, HOOKS, METRICS)]
importlib.import_module('parkdet_mm')
import parkdet_mm  # noqa
assert sizes == [len(r.module_dict) for r in (DATA_SAMPLERS, HOOKS, METRICS)]
assert 'EpochPartSampler' in DATA_SAMPLERS.module_dict
assert 'ClassBalanceHook' in HOOKS.module_dict
assert 'ChallengeSubmissionMetric' in METRICS.module_dict
from mmcv.ops import batched_nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [0., 0., 10., 10.]])
_, keep = batched_nms(boxes, torch.tensor([.9, .8, .7]), torch.tensor([0, 0, 1]),
                      dict(type='nms', iou_threshold=0.5))
assert sorted(keep.tolist()) == [0, 2], keep
print('ok')
'''
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == 'ok'


def _mmengine_like_checkpoint(path: Path, extra=None) -> None:
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(0.5)
    checkpoint = dict(
        meta=dict(epoch=3, seed=np.int64(7)),
        state_dict={'w': torch.ones(2)},
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info=dict(iter=np.array([1, 2]))))
    if extra is not None:
        checkpoint['extra'] = extra
    torch.save(checkpoint, path)


def test_weights_only_needs_the_allow_list(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_like_checkpoint(path)
    # Plain torch (no parkdet_mm) refuses an mmengine checkpoint under weights_only.
    refused = subprocess.run(
        [sys.executable, '-c',
         f'import torch; torch.load({str(path)!r}, weights_only=True)'],
        capture_output=True, text=True)
    assert refused.returncode != 0 and 'Unsupported global' in refused.stderr

    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    loaded = load_local_checkpoint(str(path))
    assert loaded['meta']['epoch'] == 3
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5
    assert loaded['message_hub']['runtime_info']['iter'].tolist() == [1, 2]


class Smuggled:
    """Anything outside the allow-list."""


def test_checkpoint_with_other_objects_is_refused(tmp_path):
    from mmengine.runner import CheckpointLoader

    from parkdet_mm.engine.checkpoint import UnsafeCheckpointError
    path = tmp_path / 'bad.pth'
    _mmengine_like_checkpoint(path, extra=Smuggled())
    with pytest.raises(UnsafeCheckpointError, match='Smuggled'):
        CheckpointLoader.load_checkpoint(str(path))


def test_train_resume_load_from_and_test(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=2)
    work = tmp_path / 'run'
    run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    assert (work / 'epoch_2.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_2.pth')

    # --resume continues the same run to a later final epoch.
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--resume', '--cfg-options', 'max_epochs=3'])
    assert 'resumed epoch: 2' in proc.stdout + proc.stderr
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    assert load_local_checkpoint(str(work / 'epoch_3.pth'))['meta']['epoch'] == 3

    # load_from starts a new run from the weights only.
    other = tmp_path / 'other'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(other),
                     '--cfg-options', f'load_from={work / "epoch_3.pth"}',
                     'max_epochs=1'])
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
    assert load_local_checkpoint(str(other / 'epoch_1.pth'))['meta']['epoch'] == 1

    # tools/test.py writes the trained model's detections: every test image's
    # (score_thr 0: the few-epoch model scores below the default's 0.01)
    out = tmp_path / 'sub'
    run_tool(['tools/test.py', str(config), str(work / 'epoch_3.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out-dir', str(out),
              '--cfg-options', 'score_thr=0.0'])
    from parkdet_mm.config import load_config
    cfg = load_config(str(config), primaries=dict(score_thr=0.0))
    records = json.loads((out / 'preds.json').read_text())
    assert_records_are_detections(records, model_detections(cfg, work / 'epoch_3.pth'))
    # all of them in the submission too (far below the size cap)
    submission = json.loads((out / 'submission.json').read_text())
    assert sorted(map(json.dumps, submission)) == sorted(map(json.dumps, records))


def test_missing_inputs_fail_at_start_with_one_line(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    work = tmp_path / 'run'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--cfg-options', 'train_ann_file=nope.json'],
                    check=False)
    assert_one_line_error(proc, 'nope.json', 'train_dataloader')
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--cfg-options', 'load_from=missing/epoch_50.pth'],
                    check=False)
    assert_one_line_error(proc, 'missing/epoch_50.pth')
    assert not work.exists()  # nothing was started
    proc = run_tool(['tools/test.py', str(config), 'missing.pth'], check=False)
    assert_one_line_error(proc, 'missing.pth')
    proc = run_tool(['tools/train.py', 'configs/nope.py'], check=False)
    assert_one_line_error(proc, 'configs/nope.py')


def test_default_work_dir_mirrors_the_config_path():
    from parkdet_mm.config import default_work_dir
    assert default_work_dir('configs/baseline.py') == 'work_dirs/baseline'
    assert default_work_dir('configs/demo/baseline.py') == \
        'work_dirs/demo/baseline'
    assert default_work_dir('/tmp/x/my_exp.py') == 'work_dirs/my_exp'


def test_getattr_in_a_checkpoint_reaches_history_buffer_statistics_only(tmp_path):
    import pickle as std_pickle

    from parkdet_mm.engine.checkpoint import UnsafeCheckpointError, load_local_checkpoint

    class WritesFiles:
        def __reduce__(self):
            # getattr(numpy.ndarray, 'tofile'): a gadget a general getattr would allow
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'gadget.pth'
    torch.save({'x': WritesFiles()}, path, pickle_module=std_pickle)
    with pytest.raises(UnsafeCheckpointError, match='tofile'):
        load_local_checkpoint(str(path))
