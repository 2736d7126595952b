"""tools/kfold.py: every fold trained, its held-out images predicted by its model, the
out-of-fold predictions scored together; tools/predict.py --folds fuses the folds."""
import json
import os

import pytest
import torch
from conftest import CLASSES, REPO, run_tool, write_tiny_config
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmengine.structures import InstanceData

from parkdet_challenge.convert import prepare_data
from parkdet_challenge.demo import make_demo_data
from parkdet_mm.config.folds import fold_config, oof_weights
from parkdet_mm.tuning.kfold import FOLD_PREDICTIONS, score_folds


def _fold_config(root, data, name):
    """A 64 px config of ``data``; fold k trains in work_dirs/NAME_fold{k} below the
    tools' current folder (the tests run them in ``root``)."""
    return write_tiny_config(root / f'{name}.py', data, epochs=1)


@pytest.fixture(scope='module')
def demo_folds(tmp_path_factory):
    """Demo data (16 labelled images, 4 test) with 2 folds, and a 64 px config."""
    root = tmp_path_factory.mktemp('demo_folds')
    make_demo_data(root / 'data', n_train=16, n_test=4, seed=0)
    prepare_data(root / 'data', root / 'data', val_size=4, folds=2, plot=False,
                 workers=1)
    return root, _fold_config(root, root / 'data', 'tiny')


def _labels(path):
    with open(path) as f:
        return json.load(f)


def _predictions_of(labels, keep):
    """Predictions that are the labels' own boxes (score 0.9) on the images
    ``keep`` says, none elsewhere."""
    by_image = {image['id']: [] for image in labels['images']}
    for a in labels['annotations']:
        by_image[a['image_id']].append(a)
    predictions = {}
    for image_id, anns in by_image.items():
        result = InstanceData()
        anns = anns if keep(image_id) else []
        result.bboxes = torch.tensor([[a['bbox'][0], a['bbox'][1],
                                       a['bbox'][0] + a['bbox'][2],
                                       a['bbox'][1] + a['bbox'][3]] for a in anns],
                                     dtype=torch.float32).reshape(-1, 4)
        result.scores = torch.full((len(anns), ), 0.9)
        result.labels = torch.tensor([a['category_id'] - 1 for a in anns],
                                     dtype=torch.long)
        predictions[image_id] = result
    return predictions


def test_oof_scores_are_pycocotools_on_all_folds_held_out_images(demo_folds, tmp_path,
                                                                 monkeypatch):
    root, _ = demo_folds
    config = _fold_config(tmp_path, root / 'data', 'scored')
    monkeypatch.chdir(tmp_path)  # the folds' work dirs
    # fold 0's model finds every box of its held-out images, fold 1's none
    records = []
    for fold in (0, 1):
        cfg = fold_config(str(config), fold)
        ann_file = f'{cfg.data_root}{cfg.val_ann_file}'
        labels = _labels(ann_file)
        predictions = _predictions_of(labels, lambda image_id, f=fold: f == 0)
        os.makedirs(cfg.work_dir, exist_ok=True)
        torch.save(dict(fold=fold, checkpoint=f'fold{fold}.pth', tta=False,
                        ann_file=ann_file, predictions=predictions),
                   f'{cfg.work_dir}/{FOLD_PREDICTIONS}')
        records += [dict(image_id=i, category_id=int(k) + 1, score=0.9,
                         bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]),
                               float(b[3] - b[1])])
                    for i, p in predictions.items()
                    for b, k in zip(p.bboxes.tolist(), p.labels.tolist())]
    result = score_folds(str(config), 2, str(tmp_path / 'oof'))
    assert [f['fitness'] for f in result['per_fold']] == [1.0, 0.0]
    assert result['images'] == 16
    # pycocotools on the union: half the boxes found
    gt = COCO(str(tmp_path / 'oof' / 'oof_gt.json'))
    evaluation = COCOeval(gt, gt.loadRes(records), 'bbox')
    evaluation.params.maxDets = [100, 300, 1000]
    evaluation.evaluate()
    evaluation.accumulate()
    precision = evaluation.eval['precision'][:, :, :, 0, -1]
    assert result['mAP'] == pytest.approx(float(precision[precision > -1].mean()))
    assert 0.2 < result['mAP'] < 0.8
    assert set(result['per_class']) == set(CLASSES)
    assert (tmp_path / 'oof' / 'oof_per_class.png').read_bytes()[:4] == b'\x89PNG'
    assert oof_weights(str(tmp_path / 'oof' / 'oof_scores.json'), 2) == [1.0, 0.0]


def test_kfold_trains_both_folds_and_the_fold_ensemble_predicts(demo_folds, monkeypatch):
    root, config = demo_folds
    monkeypatch.chdir(root)  # the folds' work dirs, as the tools (run there) find them
    kfold = [str(REPO / 'tools/kfold.py'), str(config), '--folds', '2', '--no-tta',
             '--out-dir', str(root / 'kfold')]
    out = run_tool(kfold, cwd=root).stdout
    scores = json.loads((root / 'kfold' / 'oof_scores.json').read_text())
    assert [f['fold'] for f in scores['per_fold']] == [0, 1]
    # every labelled image predicted once, by the fold that held it out
    labelled = {i['id'] for split in ('train', 'val')
                for i in _labels(root / 'data' / 'annotations' / f'{split}.json')['images']}
    seen = []
    for fold in (0, 1):
        cfg = fold_config(str(config), fold)
        saved = torch.load(root / cfg.work_dir / FOLD_PREDICTIONS, weights_only=False)
        held_out = {i['id'] for i in _labels(saved['ann_file'])['images']}
        assert set(saved['predictions']) == held_out
        assert saved['checkpoint'] == f'{cfg.work_dir}/epoch_1.pth'
        seen += list(saved['predictions'])
    assert sorted(seen) == sorted(labelled) and scores['images'] == len(labelled)
    assert 'out-of-fold (16 images)' in out
    # run again: nothing is trained or predicted twice
    again = run_tool(kfold, cwd=root).stdout
    assert again.count(' done (') == 2 and 'Epoch(train)' not in again

    # the fold ensemble: both fold models, fused; the same as predicting with them
    # (score_thr 0: the 1-epoch models' boxes all score below the config's 0.01)
    data = ['--data-root', str(root / 'data'), '--ann-dir', str(root / 'data' / 'annotations'),
            '--cfg-options', 'score_thr=0.0']
    run_tool([str(REPO / 'tools/predict.py'), str(config), '--folds', '2', '--no-tta',
              *data, '--out-dir', str(root / 'sub')], cwd=root)
    checkpoints = [str(root / fold_config(str(config), k).work_dir / 'epoch_1.pth')
                   for k in (0, 1)]
    run_tool([str(REPO / 'tools/predict.py'), str(config), *checkpoints, '--no-tta',
              *data, '--out-dir', str(root / 'by_hand')], cwd=root)
    assert (root / 'sub' / 'submission.json').read_bytes() == \
        (root / 'by_hand' / 'submission.json').read_bytes()
    fused = json.loads((root / 'sub' / 'preds.json').read_text())
    assert fused and len(fused) <= 50 * 4  # max_per_img after the fusion
