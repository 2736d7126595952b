"""tools/predict.py end to end on tiny data, and its answers to bad input."""
import json
import shutil

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


def test_predict_fuses_checkpoints_and_writes_the_submission(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    first = _random_checkpoint(config, tmp_path / 'a.pth')
    second = tmp_path / 'b.pth'
    shutil.copy(first, second)
    out, show = tmp_path / 'out', tmp_path / 'show'
    # a random model scores low: keep everything above 0.001 to have boxes to fuse
    run_tool(['tools/predict.py', str(config), str(first), str(second),
              '--data-root', str(tiny_coco), '--ann-dir',
              str(tiny_coco / 'annotations'), '--out-dir', str(out),
              '--img-size', '64', '--batch-size', '2', '--show-dir', str(show),
              '--show-num', '2', '--cfg-options', 'score_thr=0.001'])
    preds = json.loads((out / 'preds.json').read_text())
    submission = json.loads((out / 'submission.json').read_text())
    test = json.loads((tiny_coco / 'annotations' / 'test.json').read_text())
    assert preds, 'a random model above score 0.001 still predicts boxes'
    assert {r['image_id'] for r in preds} <= {im['id'] for im in test['images']}
    per_image = {}
    for record in preds:
        assert list(record) == ['image_id', 'category_id', 'bbox', 'score',
                                'segmentation']
        assert 1 <= record['category_id'] <= 14
        per_image[record['image_id']] = per_image.get(record['image_id'], 0) + 1
    assert max(per_image.values()) <= 50  # at most 50 boxes per image, fused too
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
