"""YOLOv5's --single-cls: every class becomes one, 'item', in training and test."""
import contextlib
import io
import json

import numpy as np
import pytest
from conftest import run_tool, write_tiny_config
from helpers.challenge_case import GT, _ann_file, _evaluate, _samples
from helpers.quick_training import quick_training
from helpers.train_flags import config_from_train_flags

from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric


def yolov5_single_class_ap(ann_file: str, records: list) -> float:
    """AP@[.5:.95] as YOLOv5's val.py --single-cls counts it: every label and
    every prediction of class 0 (here by pycocotools on a copy of the file with
    one category)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    data = json.loads(open(ann_file).read())
    for annotation in data['annotations']:
        annotation['category_id'] = 0
    data['categories'] = [dict(id=0, name='item')]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        dt = gt.loadRes([dict(r, category_id=0) for r in records])
        evaluation = COCOeval(gt, dt, 'bbox')
        evaluation.params.maxDets = [100, 300, 1000]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval['precision'][:, :, 0, 0, -1]
    return float(np.mean(precision[precision > -1]))


def test_the_metric_counts_every_class_as_one(tmp_path):
    ann_file = _ann_file(tmp_path, True)
    # a one-class model's predictions: label 0; one true box missed
    samples = _samples(drop={(2005, 0)})
    for sample in samples:
        sample['pred_instances']['labels'][:] = 0
    metric = ChallengeSubmissionMetric(ann_file=ann_file, single_cls=True,
                                       out_dir=str(tmp_path / 'out'))
    metric.dataset_meta = dict(classes=('item', ))
    metrics = _evaluate(metric, samples)
    records = json.loads((tmp_path / 'out' / 'preds.json').read_text())
    # the category with the lowest id, named 'item'
    assert {r['category_id'] for r in records} == {1}
    assert len(records) == sum(len(s['pred_instances']['labels']) for s in samples)
    assert metrics['challenge/mAP'] == pytest.approx(
        yolov5_single_class_ap(ann_file, records), abs=1e-12)
    assert 0.5 < metrics['challenge/mAP'] < 1.0
    assert metrics['challenge/item_AP50'] == metrics['challenge/mAP_50']
    # every ground-truth box is one of 'item''s
    boxes = sum(len(objs) for objs in GT.values())
    assert len(metric._coco_api.get_ann_ids(cat_ids=[1])) == boxes


def test_single_cls_trains_and_tests_one_class(tiny_coco, tmp_path,
                                               monkeypatch):
    from mmengine.registry import init_default_scope

    import parkdet_mm  # noqa: F401
    from mmyolo.registry import DATASETS
    from parkdet_mm.engine import DerivingRunner
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work = tmp_path / 'work'
    cfg = config_from_train_flags(monkeypatch, [
        str(config), '--single-cls', '--work-dir', str(work)])
    assert tuple(cfg.metainfo.classes) == ('item', ) and cfg.num_classes == 1
    init_default_scope('mmyolo')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    labels = np.concatenate([
        [i['bbox_label'] for i in dataset.get_data_info(k)['instances']]
        for k in range(len(dataset))])
    train = json.loads((tiny_coco / 'annotations' / 'train.json').read_text())
    assert len({a['category_id'] for a in train['annotations']}) > 1
    assert len(labels) == len(train['annotations']) and set(labels) == {0}

    runner = DerivingRunner.from_cfg(quick_training(cfg, monkeypatch))
    runner.train()
    # one class: no classification loss, as YOLOv5 with nc = 1
    assert runner.message_hub.get_scalar('train/loss_cls').current() == 0
    checkpoint = work / 'epoch_1.pth'
    meta = load_local_checkpoint(str(checkpoint))['meta']
    assert tuple(meta['dataset_meta']['classes']) == ('item', )

    out = tmp_path / 'test'
    proc = run_tool(['tools/test.py', str(config), str(checkpoint), '--single-cls',
                     '--work-dir', str(out), '--out-dir', str(out / 'submission')])
    assert 'challenge/mAP' in proc.stdout + proc.stderr
    records = json.loads((out / 'submission' / 'preds.json').read_text())
    assert records and {r['category_id'] for r in records} == {1}
