"""--data-root / --ann-dir and the configs' own data_root and ann_dir: every dataloader
and evaluator of a config follows them. The tiny training and test also check the
run outputs: training curves and validation pictures."""
import argparse
import json
import shutil

import pytest
from conftest import (
    REPO,
    assert_one_line_error,
    assert_records_are_detections,
    model_detections,
    run_tool,
    write_tiny_config,
)

from parkdet_challenge.errors import InputError
from parkdet_mm.apis.run_setup import data_primaries
from parkdet_mm.config import load_config
from parkdet_mm.visualization.diagnostic_plots import DIAGNOSTICS_PICTURES


def _paths(cfg):
    """(data_root, ann_file) of every stage's dataset, and every evaluator's
    ann_file."""
    datasets = {stage: (cfg[f'{stage}_dataloader'].dataset.data_root,
                        cfg[f'{stage}_dataloader'].dataset.ann_file)
                for stage in ('train', 'val', 'test')}
    evaluators = {stage: cfg[f'{stage}_evaluator'].ann_file
                  for stage in ('val', 'test')}
    return datasets, evaluators


def _flags(data_root, ann_dir=None):
    return data_primaries(argparse.Namespace(data_root=data_root, ann_dir=ann_dir))


@pytest.mark.parametrize('config', ['configs/baseline.py', 'configs/demo/baseline.py',
                                    'configs/demo/finetune.py'])
def test_data_root_reaches_every_loader_and_evaluator(config, tmp_path):
    cfg = load_config(str(REPO / config), None, _flags(str(tmp_path)))
    datasets, evaluators = _paths(cfg)
    assert datasets == {stage: (str(tmp_path), f'annotations/{stage}.json')
                        for stage in ('train', 'val', 'test')}
    assert evaluators == {stage: f'{tmp_path}/annotations/{stage}.json'
                          for stage in ('val', 'test')}

    anns = tmp_path / 'anns'
    anns.mkdir()
    cfg = load_config(str(REPO / config), None, _flags(str(tmp_path), str(anns)))
    datasets, evaluators = _paths(cfg)
    assert datasets == {stage: (str(tmp_path), f'{anns}/{stage}.json')
                        for stage in ('train', 'val', 'test')}
    assert evaluators == {stage: f'{anns}/{stage}.json' for stage in ('val', 'test')}


def test_config_data_root_alone_moves_the_derived_paths():
    # The demo configs set only data_root; --cfg-options data_root does the same.
    cfg = load_config(str(REPO / 'configs/demo/baseline.py'))
    assert _paths(cfg)[1]['val'] == 'data/demo/annotations/val.json'
    cfg = load_config(str(REPO / 'configs/baseline.py'), {'data_root': 'elsewhere'})
    datasets, evaluators = _paths(cfg)
    assert {root for root, _ in datasets.values()} == {'elsewhere'}
    assert evaluators['test'] == 'elsewhere/annotations/test.json'


def test_ann_dir_keeps_the_fold_below_it(tmp_path):
    # A k-fold split reads ANN_DIR/fold2/*.json, wherever ANN_DIR is.
    cfg = load_config(str(REPO / 'configs/challenge2021/baseline.py'),
                      {'fold': 2}, _flags(str(tmp_path), str(tmp_path)))
    datasets, evaluators = _paths(cfg)
    assert datasets['train'][1] == f'{tmp_path}/fold2/train_diet.json'
    assert evaluators == dict(val=f'{tmp_path}/fold2/val.json',
                              test=f'{tmp_path}/test.json')
    assert cfg.work_dir == 'work_dirs/challenge2021/baseline_fold2'


def test_missing_folders_are_input_errors(tmp_path):
    with pytest.raises(InputError, match='--data-root'):
        _flags(str(tmp_path / 'no'))
    with pytest.raises(InputError, match='--ann-dir'):
        _flags(str(tmp_path), str(tmp_path / 'no'))


def test_train_and_test_on_a_copied_data_folder(tiny_coco, tmp_path):
    # The config names a data root that does not exist; the copy is all there is,
    # with its annotations moved out of it.
    config = write_tiny_config(tmp_path / 'tiny.py', tmp_path / 'not_here', epochs=1)
    copy = tmp_path / 'copy'
    shutil.copytree(tiny_coco, copy)
    anns = tmp_path / 'anns'
    shutil.move(copy / 'annotations', anns)
    work = tmp_path / 'run'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--data-root', str(copy)], check=False)
    assert_one_line_error(proc, str(copy / 'annotations' / 'train.json'))

    run_tool(['tools/train.py', str(config), '--work-dir', str(work),
              '--data-root', str(copy), '--ann-dir', str(anns)])
    assert (work / 'epoch_1.pth').is_file()
    # The same run shows the other run outputs: training curves at the end, and
    # the validation's pictures next to its log.
    assert (work / 'results.png').is_file()
    (log_dir, ) = [d for d in work.iterdir() if d.is_dir()]
    assert all((log_dir / name).is_file() for name in DIAGNOSTICS_PICTURES)
    # score_thr 0: the one-epoch model scores below the default's 0.01
    out = tmp_path / 'sub'
    run_tool(['tools/test.py', str(config), str(work / 'epoch_1.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out-dir', str(out),
              '--data-root', str(copy), '--ann-dir', str(anns), '--cfg-options',
              'score_thr=0.0'])
    (log_dir, ) = [d for d in (tmp_path / 'test').iterdir() if d.is_dir()]
    assert all((log_dir / name).is_file() for name in DIAGNOSTICS_PICTURES)
    # the model's detections on every image of the copy's test list
    cfg = load_config(str(config), None, dict(_flags(str(copy), str(anns)),
                                              score_thr=0.0))
    assert_records_are_detections(json.loads((out / 'preds.json').read_text()),
                                  model_detections(cfg, work / 'epoch_1.pth'))
