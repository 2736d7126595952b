"""YOLOv5's own data sets (a data YAML, images/, labels/*.txt) through
prepare_data, a config, train.py and predict.py; every refusal of a broken line."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_tool, write_tiny_config
from PIL import Image, ImageDraw

from parkdet_challenge.formats.yolo import label_path

NAMES = ['kettle', 'lamp', 'owl', 'canoe', 'ferret']
SPLITS = dict(train=12, val=4, test=3)


# Transcribed from YOLOv5 v7.0 utils/dataloaders.py and utils/general.py.
def yolov5_img2label_paths(img_paths):
    sa, sb = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    return [sb.join(x.rsplit(sa, 1)).rsplit('.', 1)[0] + '.txt' for x in img_paths]


def yolov5_segments2boxes(segments):
    boxes = []
    for s in segments:
        x, y = s.T  # segment xy
        boxes.append([x.min(), y.min(), x.max(), y.max()])  # cls, xyxy
    return yolov5_xyxy2xywh(np.array(boxes))  # cls, xywh


def yolov5_xyxy2xywh(x):
    y = np.copy(x)
    y[:, 0] = (x[:, 0] + x[:, 2]) / 2  # x center
    y[:, 1] = (x[:, 1] + x[:, 3]) / 2  # y center
    y[:, 2] = x[:, 2] - x[:, 0]  # width
    y[:, 3] = x[:, 3] - x[:, 1]  # height
    return y


def yolov5_labels(lines):
    """verify_image_label's reading of a label file's lines: (cls, cx, cy, w, h);
    a file with a line of more than 6 values holds segments."""
    lb = [x.split() for x in lines if len(x)]
    if any(len(x) > 6 for x in lb):  # is segment
        classes = np.array([x[0] for x in lb], dtype=np.float32)
        segments = [np.array(x[1:], dtype=np.float32).reshape(-1, 2) for x in lb]
        lb = np.concatenate((classes.reshape(-1, 1), yolov5_segments2boxes(segments)),
                            1)
    return np.array(lb, dtype=np.float32).reshape(-1, 5)


def yolov5_xywhn2xyxy(x, w=640, h=640, padw=0, padh=0):
    y = np.copy(x)
    y[:, 0] = w * (x[:, 0] - x[:, 2] / 2) + padw
    y[:, 1] = h * (x[:, 1] - x[:, 3] / 2) + padh
    y[:, 2] = w * (x[:, 0] + x[:, 2] / 2) + padw
    y[:, 3] = h * (x[:, 1] + x[:, 3] / 2) + padh
    return y


def draw_yolo_set(root: Path) -> dict:
    """96x64 images of coloured boxes in YOLOv5's layout; val listed in a text
    file. Returns each image's label lines (relative image path -> lines)."""
    rng = np.random.default_rng(0)
    colours = np.random.default_rng(1).integers(40, 255, (len(NAMES), 3))
    lines = {}
    for split, count in SPLITS.items():
        for i in range(count):
            name = f'images/{split}/{"ab"[i % 2]}/{split}_{i:02d}.png'
            image = Image.new('RGB', (96, 64), (110, 110, 110))
            draw = ImageDraw.Draw(image)
            rows = []
            for _ in range(int(rng.integers(1, 4))):
                c = int(rng.integers(0, len(NAMES)))
                w, h = (int(v) for v in rng.integers(12, 32, 2))
                x, y = int(rng.integers(0, 96 - w)), int(rng.integers(0, 64 - h))
                draw.rectangle([x, y, x + w - 1, y + h - 1],
                               fill=tuple(int(v) for v in colours[c]))
                rows.append(f'{c} {(x + w / 2) / 96:.6f} {(y + h / 2) / 64:.6f} '
                            f'{w / 96:.6f} {h / 64:.6f}')
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            image.save(root / name)
            lines[name] = rows
    # a polygon (YOLOv5 takes its bounding box), an empty and a missing label file
    lines['images/train/a/train_00.png'] = ['2 0.1 0.2 0.4 0.2 0.4 0.6 0.1 0.6']
    lines['images/train/b/train_01.png'] = []
    for name, rows in lines.items():
        if name == 'images/train/a/train_02.png':
            continue
        label = Path(yolov5_img2label_paths([str(root / name)])[0])
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(''.join(f'{row}\n' for row in rows))
    del lines['images/train/a/train_02.png']  # no label file: no objects
    (root / 'val.txt').write_text(''.join(
        f'./{name}\n' for name in sorted(lines) if name.startswith('images/val/')))
    names = ''.join(f'  {i}: {n}\n' for i, n in enumerate(NAMES))
    (root / 'data.yaml').write_text(
        f'path: {root}\ntrain: images/train\nval: val.txt\ntest: [images/test]\n'
        f'names:\n{names}')
    return lines


@pytest.fixture(scope='module')
def yolo_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('my_yolo')
    lines = draw_yolo_set(root)
    run_tool(['tools/prepare_data.py', '--data-yaml', str(root / 'data.yaml'),
              '--out-dir', str(root), '--workers', '1'])
    return root, lines


def test_label_paths_are_yolov5s():
    for image in ('/d/images/train/x.jpg', '/d/images/a/images/b/x.png',
                  '/d/pics/x.jpeg', '/d/images.v1/images/x.y.jpg'):
        assert label_path(image) == yolov5_img2label_paths([image])[0]


def test_prepare_data_reads_yolov5s_layout(yolo_set):
    root, lines = yolo_set
    annotations = root / 'annotations'
    classes = json.loads((annotations / 'classes.json').read_text())
    # category id = YOLOv5's class index
    assert classes == dict(format='yolo', classes=NAMES, category_ids=[0, 1, 2, 3, 4])
    for split in SPLITS:
        coco = json.loads((annotations / f'{split}.json').read_text())
        files = {im['id']: im['file_name'] for im in coco['images']}
        assert sorted(files.values()) == sorted(
            [name for name in lines if name.split('/')[1] == split]
            + (['images/train/a/train_02.png'] if split == 'train' else []))
        for image_id, name in files.items():
            got = sorted((a['category_id'], *a['bbox'])
                         for a in coco['annotations'] if a['image_id'] == image_id)
            rows = yolov5_labels(lines.get(name, []))
            xyxy = yolov5_xywhn2xyxy(rows[:, 1:], 96, 64)
            expected = sorted((int(c), x1, y1, x2 - x1, y2 - y1)
                              for c, (x1, y1, x2, y2) in zip(rows[:, 0], xyxy))
            assert len(got) == len(expected), name
            for mine, theirs in zip(got, expected):  # YOLOv5's float32
                assert mine == pytest.approx(theirs, abs=1e-3), name
    polygon = json.loads((annotations / 'train.json').read_text())['annotations']
    assert [2, 9.6, 12.8, 28.8, 25.6] in [
        [a['category_id'], *np.round(a['bbox'], 6)] for a in polygon]
    report = json.loads((root / 'report.json').read_text())
    assert report['format'] == 'yolo'
    assert report['split'] == dict(seed=100, val_size=4, train_images=12,
                                   val_images=4)
    assert report['test_images'] == dict(input=3, kept=3, rejected=0)
    assert 'suspicious' in report and (root / 'class_distribution.png').is_file()


@pytest.mark.parametrize('line, message', [
    ('1 0.5 0.5 0.2', 'expected "class cx cy w h"'),
    ('1 0.5 0.5 0.2 x', 'not numbers'),
    ('5 0.5 0.5 0.2 0.2', 'class 5 is not one of 0 to 4'),
    ('1.5 0.5 0.5 0.2 0.2', 'class 1.5 is not one of 0 to 4'),
    ('1 0.5 1.2 0.2 0.2', 'coordinates must be normalised'),
    ('1 -0.1 0.5 0.2 0.2', 'coordinates must be normalised'),
])
def test_a_broken_label_line_is_refused_with_its_file_and_line(
        yolo_set, tmp_path, line, message):
    root, lines = yolo_set
    label = root / 'labels' / 'val' / 'a' / 'val_00.txt'
    kept = label.read_text()
    label.write_text(kept + line + '\n')
    out = tmp_path / 'out'
    try:
        proc = run_tool(['tools/prepare_data.py', '--data-yaml',
                         str(root / 'data.yaml'), '--out-dir', str(out),
                         '--no-plot'], check=False)
    finally:
        label.write_text(kept)
    number = len(lines['images/val/a/val_00.png']) + 1
    assert_one_line_error(proc, f'{label}:{number}: {line!r}', message)
    assert not out.exists()


def test_a_yolo_set_trains_and_predicts(yolo_set, tmp_path):
    root, _ = yolo_set
    copy = tmp_path / 'set'  # the config names where the converted data is
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns('*.json', '*.png'))
    shutil.copytree(root / 'images', copy / 'images', dirs_exist_ok=True)
    # --data-root replaces the YAML's path
    run_tool(['tools/prepare_data.py', '--data-yaml', str(copy / 'data.yaml'),
              '--data-root', str(copy), '--out-dir', str(copy), '--no-plot',
              '--workers', '1'])
    config = write_tiny_config(tmp_path / 'my_set.py', copy, epochs=2,
                               base='configs/coco/demo.py')
    work = tmp_path / 'run'
    run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    out = tmp_path / 'predicted'
    run_tool(['tools/predict.py', str(config), str(work / 'epoch_2.pth'),
              '--data-root', str(copy), '--ann-dir', str(copy / 'annotations'),
              '--out-dir', str(out), '--no-tta'])
    results = json.loads((out / 'submission.json').read_text())
    test = json.loads((copy / 'annotations' / 'test.json').read_text())
    assert results and {r['category_id'] for r in results} <= set(range(5))
    assert {r['image_id'] for r in results} <= {im['id'] for im in test['images']}
    # the labelled test split: tools/test.py scores it (YOLOv5's val.py --task test)
    assert test['annotations']
    proc = run_tool(['tools/test.py', str(config), str(work / 'epoch_2.pth'),
                     '--work-dir', str(tmp_path / 'test')])
    assert 'challenge/mAP_50' in proc.stdout + proc.stderr


def test_format_yolo_needs_its_yaml(tmp_path):
    proc = run_tool(['tools/prepare_data.py', '--format', 'yolo', '--out-dir',
                     str(tmp_path / 'out')], check=False)
    assert_one_line_error(proc, '--format yolo needs --data-yaml')
