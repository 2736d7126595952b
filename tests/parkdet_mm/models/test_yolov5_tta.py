"""YOLOv5TTAModel against a direct transcription of YOLOv5's ``_forward_augment``.

The transcription below follows YOLOv5 v6.1 (models/yolo.py ``_forward_augment``,
``_descale_pred``, ``_clip_augmented``; utils/torch_utils.py ``scale_img``; the
Detect head's inference decoding; utils/general.py ``non_max_suppression`` and
``scale_coords``), written on the raw outputs of a tiny MMYOLO P6 model.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import write_tiny_config
from helpers.yolov5_inference import xywh2xyxy, yolov5_forward_once, yolov5_nms

GREY = 114 / 255  # YOLOv5 pads with 0.447 in its [0, 1] input space


# ---------------------------------------------------------------- YOLOv5, transcribed
def yolov5_scale_img(img, ratio=1.0, gs=32, value=GREY):
    if ratio == 1.0:
        return img
    h, w = img.shape[2:]
    s = (int(h * ratio), int(w * ratio))
    img = F.interpolate(img, size=s, mode='bilinear', align_corners=False)
    h, w = (math.ceil(x * ratio / gs) * gs for x in (h, w))
    return F.pad(img, [0, w - s[1], 0, h - s[0]], value=value)




def yolov5_descale_pred(p, flips, scale, img_size):
    x, y, wh = p[..., 0:1] / scale, p[..., 1:2] / scale, p[..., 2:4] / scale
    if flips == 2:
        y = img_size[0] - y
    elif flips == 3:
        x = img_size[1] - x
    return torch.cat((x, y, wh, p[..., 4:]), -1)


def yolov5_clip_augmented(y, nl):
    g = sum(4**x for x in range(nl))
    e = 1
    i = (y[0].shape[1] // g) * sum(4**x for x in range(e))
    y[0] = y[0][:, :-i]
    i = (y[-1].shape[1] // g) * sum(4**(nl - 1 - x) for x in range(e))
    y[-1] = y[-1][:, i:]
    return y


def yolov5_forward_augment(detector, x):
    img_size = x.shape[-2:]
    s = [1, 0.83, 0.67]
    f = [None, 3, None]
    gs = int(max(detector.bbox_head.featmap_strides))
    y, views = [], []
    for si, fi in zip(s, f):
        xi = yolov5_scale_img(x.flip(fi) if fi else x, si, gs=gs)
        views.append(xi)
        yi = yolov5_forward_once(detector, xi)
        y.append(yolov5_descale_pred(yi, fi, si, img_size))
    y = yolov5_clip_augmented(y, len(detector.bbox_head.featmap_strides))
    return torch.cat(y, 1), views






# ---------------------------------------------------------------- the project
@pytest.fixture(scope='module')
def tiny_detector_and_batch(tiny_coco, tmp_path_factory):
    """A tiny P6 YOLOv5 with confident random outputs, and a letterboxed test batch
    (96x64 images at 64 px: a 64x64 batch, one view padded)."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    config = write_tiny_config(tmp_path_factory.mktemp('tta') / 'tiny.py',
                               tiny_coco)
    cfg = load_config(str(config))
    init_default_scope('mmyolo')
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        for conv in detector.bbox_head.head_module.convs_pred:
            conv.bias.normal_(0, 2)  # many boxes above 0.01, overlapping
    batch = next(iter(Runner.build_dataloader(cfg.test_dataloader)))
    return cfg, detector, batch


def _tta(cfg, detector):
    from mmyolo.registry import MODELS
    return MODELS.build(dict(**cfg.tta_model, module=detector)).eval()


def _rows(bboxes, obj, scores):
    """Predictions as rows sorted by objectness, then y1, then x1 (the padding's
    uniform grey gives equal objectness at several places)."""
    rows = torch.cat((bboxes, obj[:, None], scores), 1)
    for column in (0, 1, 4):
        rows = rows[rows[:, column].argsort(stable=True)]
    return rows


def test_views_and_merged_raw_predictions_match_yolov5(tiny_detector_and_batch):
    cfg, detector, batch = tiny_detector_and_batch
    tta = _tta(cfg, detector)
    inputs = detector.data_preprocessor(batch, False)['inputs']
    assert inputs.shape[-2:] == (64, 64)
    with torch.no_grad():
        expected, expected_views = yolov5_forward_augment(detector, inputs)
        views = tta.views(inputs)
        raw = tta.raw_predictions(inputs)
    assert [tuple(v.shape[-2:]) for v in views] == [(64, 64), (64, 64), (64, 64)]
    for view, expected_view in zip(views, expected_views):
        assert torch.allclose(view, expected_view, atol=1e-6)
    # clipping: (3 + 1 + ... ) P6 levels: views of 64 px hold 3 * (64+16+4+1)
    # predictions; the first loses its 3 coarsest, the last its 192 finest
    assert raw.bboxes.shape[1] == expected.shape[1] == 3 * 255 - 3 - 192
    for i in range(inputs.shape[0]):
        mine = _rows(raw.bboxes[i], raw.objectness[i], raw.scores[i])
        e = expected[i]
        theirs = _rows(xywh2xyxy(e[:, :4]), e[:, 4], e[:, 5:])
        assert torch.allclose(mine, theirs, atol=1e-4)


def test_tta_detections_match_yolov5_augment_and_nms(tiny_detector_and_batch):
    cfg, detector, batch = tiny_detector_and_batch
    tta = _tta(cfg, detector)
    with torch.no_grad():
        samples = tta.test_step(batch)
        data = detector.data_preprocessor(batch, False)
        expected, _ = yolov5_forward_augment(detector, data['inputs'])
    compared = 0
    for sample, dets in zip(samples, yolov5_nms(expected)):
        meta = sample.metainfo
        top, _, left, _ = meta['pad_param']
        boxes = dets[:, :4] - dets.new_tensor([left, top, left, top])
        boxes /= boxes.new_tensor(meta['scale_factor']).repeat(2)
        h, w = meta['ori_shape'][:2]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        pred = sample.pred_instances
        assert len(pred) == len(dets) == 50  # the cap is reached
        # The same detections one to one. Not compared in score order: boxes tied on
        # score (within float rounding, which the thread count changes) may come in
        # either order.
        unmatched = list(range(len(pred)))
        for box, score, label in zip(boxes, dets[:, 4], dets[:, 5].long()):
            match = [j for j in unmatched
                     if pred.labels[j] == label
                     and abs(float(pred.scores[j] - score)) <= 1e-6
                     and torch.allclose(pred.bboxes[j], box, atol=1e-3)]
            assert match, f'no detection like YOLOv5\'s {box.tolist()} {float(score)}'
            unmatched.remove(match[0])
        compared += 1
    assert compared == len(batch['inputs'])


def test_predict_runs_with_tta_on_rectangular_batches(tiny_coco, tmp_path):
    """tools/predict.py --tta end to end (tools/test.py --tta: test_auto_anchor)."""
    import json

    from conftest import run_tool
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    with open(config, 'a') as f:
        f.write('test_batch_size_per_gpu = 2\n'
                "test_dataloader = dict(dataset=dict(batch_shapes_cfg=dict("
                "type='BatchShapePolicy', extra_pad_ratio=0.5)))\n")
    cfg = load_config(str(config))
    init_default_scope('mmyolo')
    torch.manual_seed(0)
    checkpoint = tmp_path / 'random.pth'
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()},
               checkpoint)
    run_tool(['tools/predict.py', str(config), str(checkpoint), '--tta',
              '--data-root', str(tiny_coco), '--ann-dir',
              str(tiny_coco / 'annotations'), '--out-dir', str(tmp_path / 'out'),
              '--img-size', '64', '--batch-size', '2', '--cfg-options',
              'score_thr=0.001'])
    preds = json.loads((tmp_path / 'out' / 'preds.json').read_text())
    assert preds and all(1 <= r['category_id'] <= 14 for r in preds)
