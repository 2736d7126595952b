"""predict --ensemble nms: YOLOv5's Ensemble (raw predictions concatenated, one NMS)
against a direct computation of that NMS."""
import copy

import pytest
import torch
from conftest import write_tiny_config
from mmcv.ops import batched_nms
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401
from mmyolo.registry import MODELS
from parkdet_mm.apis.ensemble import ensemble_test_step
from parkdet_mm.config import load_config
from parkdet_mm.models.tta import decoded_predictions

SCORE_THR = 0.002


def _models_and_batch(tiny_coco, tmp_path, count: int):
    cfg = load_config(str(write_tiny_config(tmp_path / 'tiny.py', tiny_coco)))
    cfg.model.test_cfg.score_thr = SCORE_THR
    cfg.model.test_cfg.max_per_img = 40
    init_default_scope('mmyolo')
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        model = MODELS.build(copy.deepcopy(cfg.model))
        with torch.no_grad():  # livelier than the initial, nearly silent, head
            for conv in model.bbox_head.head_module.convs_pred:
                conv.bias.add_(torch.randn_like(conv.bias) * 2)
        models.append(model.eval())
    batch = next(iter(Runner.build_dataloader(cfg.test_dataloader)))
    return cfg, models, batch


def _direct(models, batch, test_cfg):
    """The ensemble's detections written out: all models' candidates of every image
    (objectness and objectness x class score above the threshold, every class),
    one class-aware NMS, the best max_per_img, back to original pixels."""
    data = models[0].data_preprocessor(batch, False)
    per_model = [decoded_predictions(m, data['inputs']) for m in models]
    out = []
    for b, sample in enumerate(data['data_samples']):
        boxes = torch.cat([p.bboxes[b] for p in per_model])
        obj = torch.cat([p.objectness[b] for p in per_model])
        scores = torch.cat([p.scores[b] for p in per_model]) * obj[:, None]
        box_idx, labels = ((scores > SCORE_THR) & (obj > SCORE_THR)[:, None]).nonzero(
            as_tuple=True)
        dets, keep = batched_nms(boxes[box_idx], scores[box_idx, labels], labels,
                                 dict(type='nms', iou_threshold=test_cfg.nms.iou_threshold))
        dets, kept_labels = dets[:test_cfg.max_per_img], labels[keep][:test_cfg.max_per_img]
        meta = sample.metainfo
        top, _, left, _ = meta['pad_param']
        xyxy = (dets[:, :4] - dets.new_tensor([left, top, left, top])) / dets.new_tensor(
            meta['scale_factor']).repeat(2)
        height, width = meta['ori_shape']
        xyxy[:, 0::2] = xyxy[:, 0::2].clamp(0, width)
        xyxy[:, 1::2] = xyxy[:, 1::2].clamp(0, height)
        out.append((xyxy, dets[:, 4], kept_labels))
    return out


def _sorted(bboxes, scores, labels):
    order = torch.argsort(scores, descending=True, stable=True)
    return bboxes[order], scores[order], labels[order]


@pytest.mark.parametrize('count', [2, 3])
def test_nms_ensemble_is_one_nms_over_all_models(tiny_coco, tmp_path, count):
    cfg, models, batch = _models_and_batch(tiny_coco, tmp_path, count)
    with torch.no_grad():
        got = ensemble_test_step(models, batch)
        want = _direct(models, batch, cfg.model.test_cfg)
    assert sum(len(w[1]) for w in want) > 10  # the check has boxes to compare
    for sample, (bboxes, scores, labels) in zip(got, want):
        pred = sample.pred_instances
        g = _sorted(pred.bboxes, pred.scores, pred.labels)
        w = _sorted(bboxes, scores, labels)
        assert torch.allclose(g[1], w[1])
        assert torch.equal(g[2], w[2])
        assert torch.allclose(g[0], w[0], atol=1e-4)


def test_one_model_ensemble_is_the_model_and_a_duplicate_changes_nothing(
        tiny_coco, tmp_path):
    _, models, batch = _models_and_batch(tiny_coco, tmp_path, 1)
    with torch.no_grad():
        own = models[0].test_step(copy.deepcopy(batch))
        alone = ensemble_test_step(models, copy.deepcopy(batch))
        twice = ensemble_test_step(models * 2, copy.deepcopy(batch))
    for a, b, c in zip(own, alone, twice):
        a, b, c = (_sorted(s.pred_instances.bboxes, s.pred_instances.scores,
                           s.pred_instances.labels) for s in (a, b, c))
        # the detector rescales before its NMS, the ensemble after (as YOLOv5)
        assert torch.allclose(a[1], b[1]) and torch.allclose(a[0], b[0], atol=1e-3)
        # an identical second model's boxes coincide (IoU 1) and are suppressed
        assert torch.allclose(b[1], c[1]) and torch.equal(b[2], c[2])
