"""tools/detect.py, tools/browse_dataset.py and tools/export_onnx.py on a tiny model."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import CLASSES, assert_one_line_error, run_tool


def read_records(out_dir: Path) -> list:
    records = json.loads((out_dir / 'detections.json').read_text())
    for record in records:
        assert record['category'] in CLASSES
        assert record['score'] >= 0.25
    return records


def test_detect_folder_and_single_image(tiny_model, tiny_coco, tmp_path):
    config, checkpoint = tiny_model
    source = tmp_path / 'photos'
    (source / 'lot2').mkdir(parents=True)
    first = cv2.imread(str(tiny_coco / 'images/test_000.png'))
    cv2.imwrite(str(source / 'a.png'), first)
    cv2.imwrite(str(source / 'lot2/b.jpg'),
                cv2.imread(str(tiny_coco / 'images/test_001.png')))
    (source / 'notes.txt').write_text('not an image')

    out = tmp_path / 'out'
    run_tool(['tools/detect.py', str(config), str(checkpoint), str(source),
              '--out-dir', str(out)])
    for name in ('a.png', 'lot2/b.jpg'):
        drawn = cv2.imread(str(out / name))
        assert drawn is not None and drawn.shape == first.shape
    records = read_records(out)
    assert {r['file_name'] for r in records} == {'a.png', 'lot2/b.jpg'}
    height, width = first.shape[:2]
    for r in records:
        x1, y1, x2, y2 = r['bbox']
        assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height
    # boxes were drawn onto the picture
    assert not np.array_equal(cv2.imread(str(out / 'a.png')), first)

    single = tmp_path / 'single'
    run_tool(['tools/detect.py', str(config), str(checkpoint),
              str(source / 'a.png'), '--out-dir', str(single),
              '--score-thr', '0.5'])
    alone = read_records(single)
    assert alone == [r for r in records
                     if r['file_name'] == 'a.png' and r['score'] >= 0.5]
    assert (single / 'a.png').is_file()


def _detect(tiny_model, source, out, *flags, score_thr='0.25'):
    config, checkpoint = tiny_model
    run_tool(['tools/detect.py', str(config), str(checkpoint), str(source),
              '--out-dir', str(out), '--score-thr', score_thr, *flags])
    records = json.loads((out / 'detections.json').read_text())
    by_image = {}
    for record in records:
        by_image.setdefault(record['file_name'], []).append(record)
    return records, by_image


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
             - w * h)
    return w * h / union if union > 0 else 0.0


def test_detect_yolov5_options(tiny_model, tiny_coco, tmp_path):
    source = tiny_coco / 'images'
    images = sorted(p.name for p in source.glob('test_*.png'))
    source = tmp_path / 'test_images'
    source.mkdir()
    for name in images:
        (source / name).write_bytes((tiny_coco / 'images' / name).read_bytes())
    records, by_image = _detect(tiny_model, source, tmp_path / 'all',
                                '--save-txt', '--save-conf', '--save-crop')
    assert len(records) > 8 and len({r['category'] for r in records}) > 2
    width, height = 96, 64

    # --save-txt --save-conf: YOLOv5's label files parse back to the boxes
    for name, mine in by_image.items():
        lines = (tmp_path / 'all' / 'labels' /
                 f'{name[:-4]}.txt').read_text().splitlines()
        assert len(lines) == len(mine)
        for line, record in zip(lines, mine):
            cls, cx, cy, w, h, conf = (float(v) for v in line.split())
            assert CLASSES[int(cls)] == record['category']
            box = [(cx - w / 2) * width, (cy - h / 2) * height,
                   (cx + w / 2) * width, (cy + h / 2) * height]
            assert box == pytest.approx(record['bbox'], abs=0.06)
            assert conf == pytest.approx(record['score'], abs=1e-4)
    # --save-crop: one crop per box, the box x 1.02 + 10 px, clipped
    for category in {r['category'] for r in records}:
        crops = sorted((tmp_path / 'all' / 'crops' / category).iterdir())
        mine = [r for r in records if r['category'] == category]
        assert len(crops) == len(mine)
    record = records[0]
    x1, y1, x2, y2 = record['bbox']
    crop = cv2.imread(str(tmp_path / 'all' / 'crops' / record['category'] /
                          record['file_name'].replace('.png', '.jpg')))
    expected_w = min(width, (x1 + x2) / 2 + ((x2 - x1) * 1.02 + 10) / 2) - max(
        0, (x1 + x2) / 2 - ((x2 - x1) * 1.02 + 10) / 2)
    assert abs(crop.shape[1] - expected_w) <= 1.5

    # --save-txt alone: five columns
    _detect(tiny_model, source, tmp_path / 'noconf', '--save-txt')
    some = next((tmp_path / 'noconf' / 'labels').iterdir())
    assert all(len(line.split()) == 5 for line in some.read_text().splitlines())

    # --classes: only those classes, filtered before NMS and --max-det (YOLOv5's
    # order, tests/tools/test_inference_habits.py): with class-aware NMS, every box of
    # theirs found without the filter, and more where the cap had cut them
    chosen = (CLASSES[0], CLASSES[2], CLASSES[5])
    kept, _ = _detect(tiny_model, source, tmp_path / 'classes', '--classes',
                      '0', '2', '5')
    assert kept and {r['category'] for r in kept} <= set(chosen)
    theirs = [r for r in records if r['category'] in chosen]
    assert all(r in kept for r in theirs) and len(kept) > len(theirs)
    # --max-det: each image's best boxes only
    _, capped = _detect(tiny_model, source, tmp_path / 'capped', '--max-det',
                        '2')
    for name, mine in capped.items():
        best = sorted(by_image[name], key=lambda r: -r['score'])[:2]
        assert sorted(mine, key=lambda r: -r['score']) == best
    # --agnostic-nms --iou-thres: no two boxes of any classes overlap more
    _, agnostic = _detect(tiny_model, source, tmp_path / 'agnostic',
                          '--agnostic-nms', '--iou-thres', '0.3')
    for mine in agnostic.values():
        for i, a in enumerate(mine):
            for b in mine[i + 1:]:
                assert _iou(a['bbox'], b['bbox']) <= 0.3 + 1e-6
    assert any(len({r['category'] for r in mine}) > 1
               for mine in agnostic.values())

    # drawing options change the pictures, and only them
    pictures = {}
    for label, flags in (('default', ()), ('thin', ('--line-thickness', '1')),
                         ('no_labels', ('--hide-labels', )),
                         ('no_conf', ('--hide-conf', ))):
        found, _ = _detect(tiny_model, source / images[0],
                           tmp_path / f'draw_{label}', *flags)
        assert found == by_image[images[0]]
        pictures[label] = cv2.imread(str(tmp_path / f'draw_{label}' / images[0]))
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.array_equal(pictures[a], pictures[b]), (a, b)


def test_detect_video(tiny_model, tiny_coco, tmp_path):
    config, checkpoint = tiny_model
    video = tmp_path / 'clip.avi'
    frames = [cv2.imread(str(tiny_coco / f'images/test_{i:03d}.png'))
              for i in range(3)]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()

    out = tmp_path / 'out'
    # with YOLOv5's TTA (the config's tta_model) on the way
    run_tool(['tools/detect.py', str(config), str(checkpoint), str(video),
              '--out-dir', str(out), '--tta', '--save-txt'])
    drawn = cv2.VideoCapture(str(out / 'clip.mp4'))
    count = 0
    while True:
        ok, frame = drawn.read()
        if not ok:
            break
        assert frame.shape == frames[0].shape
        count += 1
    assert count == len(frames)
    records = read_records(out)
    assert records and {r['file_name'] for r in records} == {'clip.avi'}
    assert {r['frame'] for r in records} <= {0, 1, 2}
    # YOLOv5's label file per frame: STEM_FRAME.txt
    assert {p.name for p in (out / 'labels').iterdir()} == {
        f"clip_{r['frame']}.txt" for r in records}


def test_detect_bad_source(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    proc = run_tool(['tools/detect.py', str(config), str(checkpoint),
                     str(tmp_path / 'missing.png'), '--out-dir',
                     str(tmp_path / 'out')], check=False)
    assert_one_line_error(proc, 'missing.png', 'does not exist')
    assert not (tmp_path / 'out').exists()


def test_browse_dataset_writes_grid(tiny_model, tmp_path):
    config, _ = tiny_model
    out = tmp_path / 'train_batch.png'
    run_tool(['tools/browse_dataset.py', str(config), '--num', '4', '--out',
              str(out)])
    grid = cv2.imread(str(out))
    # 2 x 2 tiles of the 64-pixel mosaic output, each under a title strip
    assert grid.shape[0] > 2 * 64 and grid.shape[1] > 2 * 64
    # boxes in class colours, not just grey images and white borders
    assert (np.ptp(grid.astype(int), axis=2) > 60).sum() > 100


def test_export_onnx_matches_pytorch(tiny_model, tmp_path):
    import onnxruntime as ort
    from mmdet.structures import DetDataSample

    from parkdet_mm.apis import load_detector
    from parkdet_mm.config import load_config
    from parkdet_mm.deploy import YOLOv5ONNXModel
    config, checkpoint = tiny_model
    raw, with_nms = tmp_path / 'raw.onnx', tmp_path / 'nms.onnx'
    run_tool(['tools/export_onnx.py', str(config), str(checkpoint), str(raw),
              '--img-size', '128'])
    run_tool(['tools/export_onnx.py', str(config), str(checkpoint),
              str(with_nms), '--img-size', '128', '--dynamic', '--nms'])

    detector = load_detector(load_config(str(config)), str(checkpoint), False,
                             'cpu')
    images = np.random.default_rng(0).uniform(0, 255, (1, 3, 128, 128))
    images = images.astype(np.float32)
    boxes, scores = ort.InferenceSession(str(raw)).run(None,
                                                       {'images': images})
    with torch.no_grad():
        expected = YOLOv5ONNXModel(detector)(torch.from_numpy(images))
    np.testing.assert_allclose(boxes, expected[0].numpy(), atol=1e-3)
    np.testing.assert_allclose(scores, expected[1].numpy(), atol=1e-5)

    # With NMS, on another batch size and shape: MMYOLO's own prediction
    # (score threshold, multi-label class-aware NMS, max_per_img) in input pixels.
    images = np.random.default_rng(1).uniform(0, 255, (2, 3, 64, 128))
    images = images.astype(np.float32)
    num_dets, boxes, scores, labels = ort.InferenceSession(
        str(with_nms)).run(None, {'images': images})
    inputs = torch.from_numpy(images)
    preprocessor = detector.data_preprocessor
    inputs = (inputs - preprocessor.mean.view(1, -1, 1, 1)) / \
        preprocessor.std.view(1, -1, 1, 1)
    meta = dict(img_shape=(64, 128), ori_shape=(64, 128),
                scale_factor=(1.0, 1.0), batch_input_shape=(64, 128))
    with torch.no_grad():
        results = detector.predict(
            inputs, [DetDataSample(metainfo=meta) for _ in range(2)],
            rescale=False)
    for i, result in enumerate(results):
        pred = result.pred_instances
        count = int(num_dets[i, 0])
        assert count == len(pred.scores) > 0
        np.testing.assert_allclose(boxes[i, :count], pred.bboxes.numpy(),
                                   atol=1e-3)
        np.testing.assert_allclose(scores[i, :count], pred.scores.numpy(),
                                   atol=1e-5)
        np.testing.assert_array_equal(labels[i, :count], pred.labels.numpy())
        assert (labels[i, count:] == -1).all() and (scores[i, count:] == 0).all()

