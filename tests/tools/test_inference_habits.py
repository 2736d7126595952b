"""YOLOv5's inference habits: --classes before NMS, several checkpoints to test and
detect, --save-txt from test and predict, --half, and the export's NMS settings."""
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import CLASSES, assert_one_line_error, run_tool
from helpers.yolov5_inference import yolov5_forward_once, yolov5_nms


def _square_images(tiny_coco, count=2):
    """Test images cut square (the letterbox then scales x and y alike, so the
    IoUs of MMYOLO's NMS in original pixels equal YOLOv5's in input pixels)."""
    return [np.ascontiguousarray(cv2.resize(
        cv2.imread(str(tiny_coco / f'images/test_{i:03d}.png'))[:, :64], (128, 128)))
        for i in range(count)]


@pytest.mark.parametrize('multi_label', [True, False])
def test_classes_filter_before_nms_as_yolov5(tiny_model, tiny_coco, multi_label):
    from parkdet_mm.apis import YOLOv5Inferencer, load_detector
    from parkdet_mm.config import load_config
    config, checkpoint = tiny_model
    # across classes and a small cap: filtering after NMS would differ
    cfg = load_config(str(config), {'model.test_cfg.multi_label': multi_label}, dict(
        agnostic_nms=True, nms_iou_thr=0.3, max_per_img=6))
    classes = [2, 3, 5, 9]  # not 0, the class this model scores highest
    inferencer = YOLOv5Inferencer(cfg, str(checkpoint), classes=classes)
    images = _square_images(tiny_coco)
    _, batch = next(iter(inferencer.preprocess(images, batch_size=len(images))))
    samples = inferencer.forward(batch)
    detector = load_detector(cfg, str(checkpoint), False, 'cpu')  # no filter
    with torch.no_grad():
        inputs = detector.data_preprocessor(batch, False)['inputs']
        raw = yolov5_forward_once(detector, inputs)
    # YOLOv5's non_max_suppression(classes=...), transcribed
    yolov5 = yolov5_nms(raw, 0.01, 0.3, 6, classes, agnostic=True,
                        multi_label=multi_label)
    unfiltered = yolov5_nms(raw, 0.01, 0.3, 6, agnostic=True, multi_label=multi_label)
    for sample, dets, every in zip(samples, yolov5, unfiltered):
        pred = sample.pred_instances
        assert len(pred) == len(dets) == 6
        assert set(pred.labels.tolist()) <= set(classes)
        scale = pred.bboxes.new_tensor(sample.scale_factor).repeat(2)
        torch.testing.assert_close(pred.bboxes * scale, dets[:, :4], atol=1e-3, rtol=0)
        torch.testing.assert_close(pred.scores, dets[:, 4], atol=1e-6, rtol=0)
        assert pred.labels.tolist() == dets[:, 5].long().tolist()
        # what YOLOv5 keeps is not the filtered output of its unfiltered NMS
        after = every[(every[:, 5:6] == torch.tensor(classes)).any(1)]
        assert len(after) < len(dets) or not torch.equal(after, dets)


def _labels(folder):
    """label file stem -> its rows (class, cx, cy, w, h, conf)."""
    return {path.stem: [[float(v) for v in line.split()]
                        for line in path.read_text().splitlines()]
            for path in sorted(folder.glob('*.txt'))}


def test_test_fuses_checkpoints_and_saves_txt_as_predict(two_models, tiny_coco,
                                                         tmp_path):
    """tools/test.py A B --save-txt --save-conf: the same files as tools/predict.py
    A B (fused alike), and YOLOv5's label files hold the records' boxes."""
    config, first, second = two_models
    data = ['--data-root', str(tiny_coco), '--ann-dir', str(tiny_coco / 'annotations')]
    common = [str(config), str(first), str(second), *data, '--ensemble', 'nms',
              '--save-txt', '--save-conf']
    run_tool(['tools/predict.py', *common, '--no-tta', '--out-dir',
              str(tmp_path / 'predict')])
    run_tool(['tools/test.py', *common, '--work-dir', str(tmp_path / 'work'),
              '--out-dir', str(tmp_path / 'test')])
    written = (tmp_path / 'predict' / 'preds.json').read_bytes()
    assert (tmp_path / 'test' / 'preds.json').read_bytes() == written
    alone = tmp_path / 'alone'
    run_tool(['tools/predict.py', str(config), str(first), *data, '--no-tta',
              '--out-dir', str(alone)])
    assert (alone / 'preds.json').read_bytes() != written

    labels = _labels(tmp_path / 'work' / 'labels')
    assert labels == _labels(tmp_path / 'predict' / 'labels')
    test = json.loads((tiny_coco / 'annotations' / 'test.json').read_text())
    stems = {im['id']: im['file_name'].split('/')[-1][:-4] for im in test['images']}
    records = json.loads(written)
    assert {stems[r['image_id']] for r in records} == set(labels)
    for stem in labels:
        mine = sorted(labels[stem], key=lambda row: -row[5])
        theirs = [r for r in records if stems[r['image_id']] == stem]
        assert len(mine) == len(theirs)
        for row, record in zip(mine, sorted(theirs, key=lambda r: -r['score'])):
            x, y, w, h = record['bbox']
            assert row[0] == record['category_id'] - 1
            # pixels of the 96 x 64 image; records are rounded to 0.1 px
            assert [v * size for v, size in zip(row[1:5], (96, 64, 96, 64))] == \
                pytest.approx([x + w / 2, y + h / 2, w, h], abs=0.11)
            assert row[5] == pytest.approx(record['score'], abs=1e-4)


def test_detect_fuses_checkpoints(two_models, tiny_coco, tmp_path):
    """tools/detect.py A B SOURCE: each image's boxes are the inferencer's fusion
    of both checkpoints (weighted boxes fusion), not A's alone."""
    from parkdet_mm.apis import YOLOv5Inferencer
    from parkdet_mm.config import load_config
    config, first, second = two_models
    source = tiny_coco / 'images' / 'test_000.png'
    # fused scores are lower than one model's: list from 0.1
    run_tool(['tools/detect.py', str(config), str(first), str(second), str(source),
              '--out-dir', str(tmp_path / 'both'), '--ensemble', 'wbf', '--conf-thres',
              '0.1'])
    run_tool(['tools/detect.py', str(config), str(first), str(source),
              '--out-dir', str(tmp_path / 'one'), '--conf-thres', '0.1'])
    both = json.loads((tmp_path / 'both' / 'detections.json').read_text())
    one = json.loads((tmp_path / 'one' / 'detections.json').read_text())
    inferencer = YOLOv5Inferencer(load_config(str(config)), [str(first), str(second)],
                                  ensemble='wbf')
    _, batch = next(iter(inferencer.preprocess([cv2.imread(str(source))])))
    pred = inferencer.forward(batch)[0].pred_instances
    pred = pred[pred.scores >= 0.1]
    assert both and both != one
    assert [(r['category'], r['score']) for r in both] == [
        (CLASSES[k], round(float(s), 4)) for k, s in zip(pred.labels, pred.scores)]
    for record, box in zip(both, pred.bboxes.tolist()):
        assert record['bbox'] == pytest.approx(box, abs=0.06)


def test_half_is_refused_without_cuda(tiny_model, tiny_coco, tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA: --half runs')
    config, checkpoint = tiny_model
    data = ['--data-root', str(tiny_coco), '--ann-dir', str(tiny_coco / 'annotations')]
    source = str(tiny_coco / 'images' / 'test_000.png')
    for args in (['tools/test.py', str(config), str(checkpoint), *data],
                 ['tools/predict.py', str(config), str(checkpoint), *data,
                  '--out-dir', str(tmp_path / 'out')],
                 ['tools/detect.py', str(config), str(checkpoint), source,
                  '--out-dir', str(tmp_path / 'out')],
                 ['tools/benchmark.py', str(config)]):
        assert_one_line_error(run_tool([*args, '--half'], check=False), '--half',
                              'CUDA')
    assert not (tmp_path / 'out').exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='FP16 inference needs CUDA')
def test_half_matches_fp32_on_cuda(tiny_model, tiny_coco):
    from parkdet_mm.apis import YOLOv5Inferencer
    from parkdet_mm.config import load_config
    config, checkpoint = tiny_model
    cfg = load_config(str(config))
    images = _square_images(tiny_coco)
    found = []
    for half in (False, True):
        inferencer = YOLOv5Inferencer(cfg, str(checkpoint), tta=True, device='cuda',
                                      half=half)
        _, batch = next(iter(inferencer.preprocess(images, batch_size=2)))
        found.append([s.pred_instances.cpu() for s in inferencer.forward(batch)])
        assert next(inferencer.model.module.backbone.parameters()).dtype == (
            torch.float16 if half else torch.float32)
    for full, half in zip(*found):
        best = full[full.scores > 0.3]
        assert len(best) > 0
        for box, score, label in zip(best.bboxes, best.scores, best.labels):
            ious = _iou(box, half.bboxes) * (half.labels == label)
            assert ious.max() > 0.95
            assert abs(float(half.scores[ious.argmax()] - score)) < 0.02


def _iou(box, boxes):
    lt = torch.maximum(box[:2], boxes[:, :2])
    rb = torch.minimum(box[2:], boxes[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    return inter / (area + areas - inter)


def test_export_runs_nms_across_classes_and_refuses_soft_nms(tiny_model, tmp_path):
    import onnxruntime as ort
    from mmdet.structures import DetDataSample

    from parkdet_mm.apis import load_detector
    from parkdet_mm.config import load_config
    config, checkpoint = tiny_model
    out = tmp_path / 'agnostic.onnx'
    run_tool(['tools/export_onnx.py', str(config), str(checkpoint), str(out),
              '--img-size', '128', '--nms', '--cfg-options', 'agnostic_nms=True',
              'nms_iou_thr=0.3'])
    cfg = load_config(str(config), primaries=dict(agnostic_nms=True, nms_iou_thr=0.3))
    detector = load_detector(cfg, str(checkpoint), False, 'cpu')
    images = np.random.default_rng(0).uniform(0, 255, (1, 3, 128, 128))
    images = images.astype(np.float32)
    num_dets, boxes, scores, labels = ort.InferenceSession(str(out)).run(
        None, {'images': images})
    preprocessor = detector.data_preprocessor
    inputs = (torch.from_numpy(images) - preprocessor.mean.view(1, -1, 1, 1)) / \
        preprocessor.std.view(1, -1, 1, 1)
    meta = dict(img_shape=(128, 128), ori_shape=(128, 128), scale_factor=(1.0, 1.0),
                batch_input_shape=(128, 128))
    with torch.no_grad():
        pred = detector.predict(inputs, [DetDataSample(metainfo=meta)],
                                rescale=False)[0].pred_instances
    count = int(num_dets[0, 0])
    assert count == len(pred) > 1 and len(set(labels[0, :count].tolist())) > 1
    np.testing.assert_allclose(boxes[0, :count], pred.bboxes.numpy(), atol=1e-3)
    np.testing.assert_allclose(scores[0, :count], pred.scores.numpy(), atol=1e-5)
    np.testing.assert_array_equal(labels[0, :count], pred.labels.numpy())

    proc = run_tool(['tools/export_onnx.py', str(config), str(checkpoint),
                     str(tmp_path / 'soft.onnx'), '--nms', '--cfg-options',
                     'nms_type=soft_nms'], check=False)
    assert_one_line_error(proc, 'soft_nms', 'ONNX')
    assert not (tmp_path / 'soft.onnx').exists()
