"""tools/predict.py end to end on tiny data, and its answers to bad input."""
import json
import shutil

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_tool, write_tiny_config


def _random_checkpoint(config, path, num_classes=None):
    """A checkpoint of the config's model with random weights (no training needed)."""
    from mmengine.registry import init_default_scope

    import parkdet_mm  # noqa: F401
    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    cfg = load_config(str(config))
    if num_classes is not None:
        cfg.model.bbox_head.head_module.num_classes = num_classes
    init_default_scope('mmyolo')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)
    return path


def _own_detections(cfg, checkpoint: str) -> dict:
    """image id -> the detections of ``checkpoint``'s model alone, with TTA, on the
    config's test set."""
    from mmengine.runner import Runner

    from parkdet_mm.apis import load_detector
    model = load_detector(cfg, checkpoint, True, 'cpu')
    found = {}
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.test_dataloader):
            for sample in model.test_step(batch):
                found[sample.img_id] = sample.pred_instances
    return found


def _by_image(records: list) -> dict:
    """image id -> its records, best score first."""
    found = {}
    for record in sorted(records, key=lambda r: -r['score']):
        found.setdefault(record['image_id'], []).append(record)
    return found


def test_predict_fuses_two_checkpoints_and_writes_the_submission(two_models, tiny_coco,
                                                                tmp_path):
    """tools/predict.py A B (TTA and weighted boxes fusion, the defaults): each
    test image's records are the fusion of A's and B's own detections, the best
    max_per_img of them, in original pixels."""
    from mmdet.models.utils import weighted_boxes_fusion

    from parkdet_mm.config import load_config
    config, first, second = two_models
    out, show = tmp_path / 'out', tmp_path / 'show'
    run_tool(['tools/predict.py', str(config), first, second,
              '--data-root', str(tiny_coco), '--ann-dir',
              str(tiny_coco / 'annotations'), '--out-dir', str(out),
              '--img-size', '64', '--batch-size', '2', '--show-dir', str(show),
              '--show-num', '2'])
    preds = json.loads((out / 'preds.json').read_text())
    submission = json.loads((out / 'submission.json').read_text())
    test = json.loads((tiny_coco / 'annotations' / 'test.json').read_text())
    for record in preds:
        assert list(record) == ['image_id', 'category_id', 'bbox', 'score',
                                'segmentation']
    cfg = load_config(str(config))
    own = [_own_detections(cfg, checkpoint) for checkpoint in (first, second)]
    got = _by_image(preds)
    assert sorted(got) == sorted(im['id'] for im in test['images'])
    for image_id, records in got.items():
        a, b = own[0][image_id], own[1][image_id]
        boxes, scores, labels = weighted_boxes_fusion(
            [a.bboxes, b.bboxes], [a.scores, b.scores], [a.labels, b.labels],
            iou_thr=0.55)
        keep = scores.argsort(descending=True)[:cfg.max_per_img]
        assert len(records) == len(keep) <= 50
        assert [r['category_id'] for r in records] == (labels[keep] + 1).tolist()
        assert [r['score'] for r in records] == pytest.approx(
            scores[keep].tolist(), abs=1e-4)
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in (r['bbox'] for r in records)]
        assert np.array(xyxy) == pytest.approx(boxes[keep].numpy(), abs=0.11)
        # B's boxes count: A's alone would score otherwise
        assert len(records) != len(a) or not np.allclose(
            [r['score'] for r in records], a.scores.numpy(), atol=1e-3)
    assert sorted(submission, key=lambda r: -r['score']) == submission
    assert len(list(show.glob('*.png'))) == 2


def test_predict_bad_inputs_are_one_line(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    checkpoint = _random_checkpoint(config, tmp_path / 'a.pth')
    common = ['--ann-dir', str(tiny_coco / 'annotations'), '--out-dir',
              str(tmp_path / 'out'), '--no-tta']

    proc = run_tool(['tools/predict.py', str(config), str(tmp_path / 'nope.pth'),
                     '--data-root', str(tiny_coco), *common], check=False)
    assert_one_line_error(proc, 'nope.pth')

    other = _random_checkpoint(config, tmp_path / 'three.pth', num_classes=3)
    proc = run_tool(['tools/predict.py', str(config), str(other),
                     '--data-root', str(tiny_coco), *common], check=False)
    assert_one_line_error(proc, '3 classes', '14')

    broken = tmp_path / 'data'
    shutil.copytree(tiny_coco, broken)
    missing = json.loads((broken / 'annotations' / 'test.json').read_text())[
        'images'][0]['file_name']
    (broken / missing).unlink()
    proc = run_tool(['tools/predict.py', str(config), str(checkpoint),
                     '--data-root', str(broken), *common], check=False)
    assert_one_line_error(proc, missing)
    assert not (tmp_path / 'out').exists()


def test_predict_and_test_write_the_same_files(tiny_model, tiny_coco, tmp_path):
    """One writer: tools/predict.py (through the inferencer) and tools/test.py
    (through the metric) write the same bytes for the same checkpoint and data."""
    config, checkpoint = tiny_model
    data = ['--data-root', str(tiny_coco), '--ann-dir', str(tiny_coco / 'annotations')]
    run_tool(['tools/predict.py', str(config), str(checkpoint), *data, '--no-tta',
              '--out-dir', str(tmp_path / 'predict')])
    run_tool(['tools/test.py', str(config), str(checkpoint), *data, '--work-dir',
              str(tmp_path / 'work'), '--out-dir', str(tmp_path / 'test')])
    for name in ('preds.json', 'submission.json'):
        written = (tmp_path / 'predict' / name).read_bytes()
        assert len(json.loads(written)) > 4
        assert (tmp_path / 'test' / name).read_bytes() == written
