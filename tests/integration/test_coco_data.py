"""Any COCO data set: classes and category ids nobody here chose (3, 8, 17, 41, 90),
images in subfolders, a crowd box, through prepare_data, a three-line config,
train.py, predict.py and pycocotools; and every refusal of a broken COCO file."""
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    REPO,
    assert_one_line_error,
    assert_records_are_detections,
    model_detections,
    run_tool,
)
from PIL import Image, ImageDraw

from parkdet_mm.config import load_config

CATEGORIES = [(17, 'kettle'), (3, 'lamp'), (90, 'owl'), (41, 'canoe'), (8, 'ferret')]


def draw_set(root: Path, split: str, count: int, first_id: int, seed: int) -> dict:
    """``count`` 96x64 images of coloured boxes in root/pics/<split>/<a|b>/."""
    rng = np.random.default_rng(seed)
    colours = {cat: tuple(int(c) for c in np.random.default_rng(cat).integers(
        40, 255, 3)) for cat, _ in CATEGORIES}
    images, annotations = [], []
    for i in range(count):
        image = Image.new('RGB', (96, 64), (110, 110, 110))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 4))):
            cat = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))][0]
            w, h = (int(v) for v in rng.integers(12, 32, 2))
            x, y = int(rng.integers(0, 96 - w)), int(rng.integers(0, 64 - h))
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=colours[cat])
            annotations.append(dict(id=1000 * seed + len(annotations),
                                    image_id=first_id + i, category_id=cat,
                                    bbox=[x, y, w, h], area=w * h, iscrowd=0))
        name = f'{split}/{"ab"[i % 2]}/img_{i:03d}.jpg'
        (root / 'pics' / name).parent.mkdir(parents=True, exist_ok=True)
        image.save(root / 'pics' / name, quality=95)
        images.append(dict(id=first_id + i, file_name=name, width=96, height=64))
    return dict(images=images, annotations=annotations,
                categories=[dict(id=i, name=n) for i, n in CATEGORIES])


@pytest.fixture(scope='module')
def coco_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('my_coco')
    train = draw_set(root, 'train', 16, 1, seed=1)
    train['annotations'][0]['iscrowd'] = 1  # COCO's crowd flag, kept
    test = draw_set(root, 'test', 6, 500, seed=2)
    (root / 'labels').mkdir()
    (root / 'labels' / 'instances_train.json').write_text(json.dumps(train))
    (root / 'labels' / 'instances_test.json').write_text(json.dumps(test))
    run_tool(['tools/prepare_data.py', '--data-root', str(root), '--out-dir',
              str(root), '--train-json', 'labels/instances_train.json', '--images',
              str(root / 'pics'), '--test-json', 'labels/instances_test.json',
              '--val-size', '4', '--no-plot', '--workers', '1'])
    return root, train, test


def test_prepare_data_keeps_the_data_sets_classes_and_ids(coco_set):
    root, train, _ = coco_set
    annotations = root / 'annotations'
    classes = json.loads((annotations / 'classes.json').read_text())
    ordered = sorted(CATEGORIES)
    assert classes == dict(format='coco', classes=[n for _, n in ordered],
                           category_ids=[i for i, _ in ordered])
    converted = [json.loads((annotations / f'{s}.json').read_text())
                 for s in ('train', 'val')]
    assert sorted(im['id'] for c in converted for im in c['images']) == \
        [im['id'] for im in train['images']]
    boxes = [a for c in converted for a in c['annotations']]
    assert len(boxes) == len(train['annotations'])
    assert {a['category_id'] for a in boxes} <= {i for i, _ in CATEGORIES}
    assert sum(a['iscrowd'] for a in boxes) == 1
    for c in converted:
        assert c['categories'] == [dict(id=i, name=n, supercategory='object')
                                   for i, n in ordered]
        for image in c['images']:
            assert image['file_name'].startswith('pics/train/')
            assert (root / image['file_name']).is_file()
    test = json.loads((annotations / 'test.json').read_text())
    assert len(test['images']) == 6 and test['annotations'] == []


def test_a_three_line_config_trains_and_predicts_coco_results(coco_set, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    root, _, test = coco_set
    config = tmp_path / 'my_set.py'
    config.write_text(f"_base_ = '{REPO}/configs/coco/demo.py'\n"
                      f"data_root = '{root}/'\n"
                      "img_scale = (128, 128)\n")
    work = tmp_path / 'run'
    run_tool(['tools/train.py', str(config), '--work-dir', str(work), '--epochs',
              '2', '--batch-size', '4', '--workers', '0', '--cfg-options',
              'epoch_parts=1', 'val_num_workers=0', 'test_num_workers=0'])
    dumped = (work / 'my_set.py').read_text()
    assert "'canoe'" in dumped and 'num_classes=5' in dumped.replace(' ', '')
    out = tmp_path / 'predicted'
    run_tool(['tools/predict.py', str(config), str(work / 'epoch_2.pth'),
              '--data-root', str(root), '--ann-dir', str(root / 'annotations'),
              '--out-dir', str(out), '--no-tta', '--cfg-options',
              'test_num_workers=0'])
    results = json.loads((out / 'submission.json').read_text())
    # the model's own detections on every test image, under the data set's own
    # category ids (label i: the i-th smallest id)
    cfg = load_config(str(config), None, dict(data_root=str(root),
                                              ann_dir=str(root / 'annotations')))
    assert_records_are_detections(results, model_detections(cfg, work / 'epoch_2.pth'),
                                  sorted(i for i, _ in CATEGORIES))
    # pycocotools takes them against the original test file and scores every image
    gt = COCO(str(root / 'labels' / 'instances_test.json'))
    evaluation = COCOeval(gt, gt.loadRes(str(out / 'submission.json')), 'bbox')
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    scored = {e['image_id'] for e in evaluation.evalImgs if e and e['dtIds']}
    assert scored == {im['id'] for im in test['images']}
    assert len(evaluation.stats) == 12 and 0 <= evaluation.stats[0] <= 1


@pytest.mark.parametrize('break_it, message', [
    (lambda d: d.pop('images'), 'no "images" list'),
    (lambda d: d['annotations'][2].update(image_id=999), 'image_id 999 is no'),
    (lambda d: d['categories'][1].update(name=''), 'has no name'),
    (lambda d: d['categories'][1].update(id=17), 'duplicate category id 17'),
    (lambda d: d['annotations'][3].update(id=d['annotations'][1]['id']),
     'duplicate annotation id'),
    (lambda d: d['annotations'][0].update(bbox=[1, 2, 3]), 'is not four numbers'),
    (lambda d: d['annotations'][0].update(bbox=[1, 2, 'x', 4]),
     'is not four numbers'),
])
def test_a_broken_coco_file_is_one_line_and_nothing_written(
        coco_set, tmp_path, break_it, message):
    root, train, _ = coco_set
    broken = json.loads(json.dumps(train))
    break_it(broken)
    labels = root / 'labels' / 'broken.json'
    labels.write_text(json.dumps(broken))
    out = tmp_path / 'out'
    try:
        proc = run_tool(['tools/prepare_data.py', '--data-root', str(root),
                         '--out-dir', str(out), '--train-json', str(labels),
                         '--images', 'pics', '--no-plot'], check=False)
    finally:
        labels.unlink()
    assert_one_line_error(proc, message)
    assert not out.exists()
