"""ChallengeSubmissionMetric: records gathered once across processes, files, COCO AP."""
import json
import math
import os
import socket
from pathlib import Path

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers.challenge_case import GT, _ann_file, _evaluate, _samples

from parkdet_challenge.classes import CLASSES
from parkdet_challenge.submission import cap_records, image_records, serialize
from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric


def _expected_records(samples):
    return [r for s in samples for r in image_records(
        s['img_id'], s['pred_instances']['bboxes'].numpy(),
        s['pred_instances']['scores'].numpy(),
        s['pred_instances']['labels'].numpy() + 1)]


def _metric(ann_file, **kwargs):
    metric = ChallengeSubmissionMetric(ann_file=ann_file, **kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric




def _expected_keys():
    keys = ['mAP', 'mAP_50', 'mAP_75', 'fitness', 'P', 'R']
    keys += [f'{c}_{m}' for c in CLASSES for m in ('AP', 'AP50', 'AP75')]
    return {f'challenge/{k}' for k in keys}


def test_built_from_mmyolo_registry(tmp_path):
    from mmyolo.registry import METRICS
    metric = METRICS.build(dict(type='ChallengeSubmissionMetric',
                                ann_file=_ann_file(tmp_path, False)))
    assert isinstance(metric, ChallengeSubmissionMetric)
    assert metric.prefix == 'challenge' and metric.out_dir is None


def test_test_set_writes_files_only(tmp_path):
    out = tmp_path / 'out'
    samples = _samples()
    records = _expected_records(samples)
    # Room for the true boxes, not for the tied 0.05 false positives.
    max_bytes = len(serialize([r for r in records if r['score'] > 0.05])) + 10
    metrics = _evaluate(_metric(_ann_file(tmp_path, False), out_dir=str(out),
                                max_bytes=max_bytes), samples)
    assert metrics == {}
    preds = (out / 'preds.json').read_text()
    assert preds == serialize(records)
    assert [(r['image_id'], r['category_id']) for r in json.loads(preds)][:3] == \
        [(1001, 1), (1001, 5), (1001, 1001 % 14 + 1)]
    submission = (out / 'submission.json').read_text()
    assert submission == cap_records(records, max_bytes)[0]
    assert {r['score'] for r in json.loads(submission)} == {0.9, 0.8, 0.7}
    assert sorted(os.listdir(out)) == ['preds.json', 'submission.json']


def test_no_out_dir_writes_nothing(tmp_path):
    before = sorted(os.listdir(tmp_path))
    metric = _metric(_ann_file(tmp_path, False))
    assert _evaluate(metric, _samples()) == {}
    assert sorted(os.listdir(tmp_path)) == before + ['test.json']


def test_val_perfect_predictions_give_ap_one(tmp_path):
    metrics = _evaluate(_metric(_ann_file(tmp_path, True)), _samples())
    assert set(metrics) == _expected_keys()
    with_gt = {CLASSES[cat - 1] for objs in GT.values() for _, cat in objs}
    for name in CLASSES:
        values = [metrics[f'challenge/{name}_{m}'] for m in ('AP', 'AP50', 'AP75')]
        if name in with_gt:
            assert values == pytest.approx([1.0, 1.0, 1.0]), name
        else:
            assert all(math.isnan(v) for v in values), name
    assert [metrics[f'challenge/{k}'] for k in ('mAP', 'mAP_50', 'mAP_75', 'P', 'R')] \
        == pytest.approx([1.0] * 5)


def test_val_missed_box_lowers_its_class_only(tmp_path):
    # One of the two school buses (category 5) is not predicted: recall 1/2.
    metrics = _evaluate(_metric(_ann_file(tmp_path, True)), _samples(drop={(2005, 0)}))
    assert metrics['challenge/school bus_AP'] == pytest.approx(0.5, abs=0.01)
    assert metrics['challenge/school bus_AP75'] == pytest.approx(0.5, abs=0.01)
    assert metrics['challenge/sedan_AP'] == pytest.approx(1.0)
    assert metrics['challenge/mAP'] < 1.0


def test_val_without_predictions_is_zero_ap(tmp_path):
    samples = _samples()
    for s in samples:
        s['pred_instances'] = {k: v[:0] for k, v in s['pred_instances'].items()}
    metrics = _evaluate(_metric(_ann_file(tmp_path, True)), samples)
    assert metrics['challenge/mAP'] == 0.0 and metrics['challenge/sedan_AP50'] == 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, ann_file, out_dir, max_bytes):
    # collect_results on cpu makes its exchange folder in the working directory.
    os.chdir(out_dir)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    try:
        metric = _metric(ann_file, out_dir=out_dir, max_bytes=max_bytes)
        samples = _samples()
        # As mmengine's DefaultSampler: rank r takes every world_size-th index,
        # the list padded with its first indices to an equal share per rank.
        indices = list(range(len(samples)))
        indices += indices[:-len(indices) % world_size]
        mine = [samples[i] for i in indices[rank::world_size]]
        for k in range(0, len(mine), 2):
            metric.process({}, mine[k:k + 2])
        metrics = metric.evaluate(size=len(samples))
        Path(out_dir, f'metrics_{rank}.json').write_text(json.dumps(metrics))
    finally:
        dist.destroy_process_group()


def test_two_processes_gather_every_record_once(tmp_path):
    assert len(GT) % 2 == 1  # so that the sampler pads: a duplicate to drop
    samples = _samples()
    records = _expected_records(samples)
    max_bytes = len(serialize(records)) - 50
    out = tmp_path / 'out'
    out.mkdir()
    mp.spawn(_dist_worker, nprocs=2, join=True,
             args=(2, _free_port(), _ann_file(tmp_path, True), str(out), max_bytes))
    # In dataset order, each record once: the padded duplicate dropped.
    assert (out / 'preds.json').read_text() == serialize(records)
    capped, result = cap_records(records, max_bytes)
    assert (out / 'submission.json').read_text() == capped
    assert 0 < result.kept < len(records)
    metrics = [json.loads((out / f'metrics_{r}.json').read_text()) for r in (0, 1)]
    assert metrics[0] == metrics[1]  # rank 0's result, broadcast
    assert metrics[0]['challenge/mAP'] == pytest.approx(1.0)
