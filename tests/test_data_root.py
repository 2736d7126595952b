"""--data-root / --ann-dir: every dataloader and evaluator of a config follows them,
and a config's own data_root reaches every derived path. The tiny training and test
also check the run outputs: training curves and validation pictures."""
import json
import shutil

import pytest
from mmengine.config import Config

from conftest import REPO, assert_one_line_error, run_tool, write_tiny_config
from parkdet_challenge.cli import InputError
from parkdet_mm.utils import load_config, point_at_data
from test_eval_diagnostics import PICTURES


def _paths(cfg):
    """(data_root, ann_file) of every leaf dataset, and every evaluator ann_file."""
    def leaves(dataset):
        if 'dataset' in dataset:
            return leaves(dataset['dataset'])
        if 'datasets' in dataset:
            return [leaf for d in dataset['datasets'] for leaf in leaves(d)]
        return [(dataset['data_root'], dataset['ann_file'])]
    datasets = {stage: leaves(cfg[f'{stage}_dataloader']['dataset'])
                for stage in ('train', 'val', 'test')}
    evaluators = {stage: cfg[f'{stage}_evaluator'].get('ann_file')
                  for stage in ('val', 'test')
                  if isinstance(cfg[f'{stage}_evaluator'], dict)}
    return datasets, evaluators


@pytest.mark.parametrize('config', ['configs/baseline.py', 'configs/demo/baseline.py',
                                    'configs/demo/finetune.py'])
def test_data_root_reaches_every_loader_and_evaluator(config, tmp_path):
    cfg = load_config(str(REPO / config), data_root=str(tmp_path))
    datasets, evaluators = _paths(cfg)
    root = f'{tmp_path}/'
    assert datasets == {stage: [(root, f'annotations/{stage}.json')]
                        for stage in ('train', 'val', 'test')}
    assert evaluators == {stage: f'{root}annotations/{stage}.json'
                          for stage in ('val', 'test')}
    assert cfg.data_root == root

    anns = tmp_path / 'anns'
    anns.mkdir()
    cfg = load_config(str(REPO / config), data_root=str(tmp_path),
                      ann_dir=str(anns))
    datasets, evaluators = _paths(cfg)
    assert datasets == {stage: [(root, f'{anns}/{stage}.json')]
                        for stage in ('train', 'val', 'test')}
    assert evaluators == {stage: f'{anns}/{stage}.json' for stage in ('val', 'test')}


def test_config_data_root_alone_moves_the_derived_paths():
    # The demo configs set only data_root; --cfg-options data_root does the same.
    cfg = load_config(str(REPO / 'configs/demo/baseline.py'))
    assert _paths(cfg)[1]['val'] == 'data/demo/annotations/val.json'
    cfg = load_config(str(REPO / 'configs/baseline.py'), {'data_root': 'elsewhere'})
    datasets, evaluators = _paths(cfg)
    roots = {leaf[0] for leaves in datasets.values() for leaf in leaves}
    assert roots == {'elsewhere/'}
    assert evaluators['test'] == 'elsewhere/annotations/test.json'


def test_wrapped_datasets_and_metric_lists(tmp_path):
    cfg = Config(dict(
        data_root='old/',
        train_dataloader=dict(dataset=dict(
            type='RepeatDataset', times=2,
            dataset=dict(type='ConcatDataset', datasets=[
                dict(data_root='old/', ann_file='annotations/a.json'),
                dict(data_root='other/', ann_file='annotations/b.json')]))),
        val_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(data_root='old/', ann_file='annotations/a.json'),
            dict(data_root='old/', ann_file='annotations/b.json')])),
        val_evaluator=[dict(type='M', ann_file='old/annotations/b.json'),
                       dict(type='N')],
        test_dataloader=dict(dataset=dict(type='RepeatDataset', times=1, dataset=dict(
            data_root='old/', ann_file='annotations/t.json'))),
        test_evaluator=dict(type='M', ann_file='somewhere/t.json')))
    point_at_data(cfg, str(tmp_path))
    root = f'{tmp_path}/'
    datasets, _ = _paths(cfg)
    assert datasets['train'] == [(root, 'annotations/a.json'),
                                 (root, 'annotations/b.json')]
    # Several files: each metric moves with the file it named; one: it is that file.
    assert cfg.val_evaluator[0]['ann_file'] == f'{root}annotations/b.json'
    assert 'ann_file' not in cfg.val_evaluator[1]
    assert cfg.test_evaluator['ann_file'] == f'{root}annotations/t.json'


def test_ann_dir_keeps_the_path_below_the_configs_ann_dir(tmp_path):
    # A k-fold split reads annotations/fold2/*.json; --ann-dir DIR: DIR/fold2/*.json.
    cfg = Config(dict(
        data_root='old/', ann_dir='annotations/',
        train_dataloader=dict(dataset=dict(data_root='old/',
                                           ann_file='annotations/fold2/train.json')),
        val_dataloader=dict(dataset=dict(data_root='old/', ann_file='elsewhere/v.json')),
        val_evaluator=dict(type='M', ann_file='old/elsewhere/v.json')))
    point_at_data(cfg, str(tmp_path), str(tmp_path))
    assert cfg.train_dataloader.dataset.ann_file == f'{tmp_path}/fold2/train.json'
    assert cfg.val_dataloader.dataset.ann_file == f'{tmp_path}/v.json'
    assert cfg.val_evaluator.ann_file == f'{tmp_path}/v.json'


def test_missing_folders_are_input_errors(tmp_path):
    with pytest.raises(InputError, match='--data-root'):
        load_config(str(REPO / 'configs/baseline.py'), data_root=str(tmp_path / 'no'))
    with pytest.raises(InputError, match='--ann-dir'):
        load_config(str(REPO / 'configs/baseline.py'), data_root=str(tmp_path),
                    ann_dir=str(tmp_path / 'no'))


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
    assert all((log_dir / name).is_file() for name in PICTURES)
    out = tmp_path / 'sub'
    run_tool(['tools/test.py', str(config), str(work / 'epoch_1.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out-dir', str(out),
              '--data-root', str(copy), '--ann-dir', str(anns)])
    (log_dir, ) = [d for d in (tmp_path / 'test').iterdir() if d.is_dir()]
    assert all((log_dir / name).is_file() for name in PICTURES)
    test_ids = {im['id']
                for im in json.loads((anns / 'test.json').read_text())['images']}
    assert {r['image_id'] for r in json.loads((out / 'preds.json').read_text())} \
        <= test_ids
