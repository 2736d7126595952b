"""The ground-truth audit finds planted whole-image, extreme-ratio, area-outlier and
duplicate boxes, and nothing in a clean set; --drop-suspicious leaves them out."""
import json

import numpy as np
from conftest import png_pixels, run_tool
from PIL import Image

from parkdet_challenge.audit import AuditThresholds, audit_boxes


def _convert(root, labels, out, *flags):
    run_tool(['tools/prepare_data.py', '--data-root', str(root), '--out-dir',
              str(out), '--train-json', str(labels), '--images', '.',
              '--val-size', '1', '--workers', '1', *flags])
    return json.loads((out / 'report.json').read_text())['suspicious']


def _check_page(page, boxes, root):
    """The page of findings: one row of four 200 px tiles under 16 px titles, in
    the report's order; each tile the image as it is on disk (96x64, not
    enlarged) with its box outlined in red, a dark title above, white around."""
    assert page.shape == (216, 800, 3)
    for k, box in enumerate(boxes):
        left = 200 * k
        tile = page[16:, left:left + 200]
        with Image.open(root / box['file_name']) as opened:
            image = np.asarray(opened.convert('RGB'))
        x, y, w, h = (int(v) for v in box['bbox'])
        assert (tile[y, x] == (255, 0, 0)).all(), k  # the outline's corner
        inside = tile[:64, :96].astype(int) - image
        outline = (tile[:64, :96] == (255, 0, 0)).all(-1)
        assert not inside[~outline].any(), k  # the image, untouched elsewhere
        assert (tile[64:] == 255).all() and (tile[:, 96:] == 255).all(), k
        assert (page[:16, left:left + 200] < 100).all(-1).any(), k  # the title


def test_a_clean_set_has_nothing_suspicious(tiny_coco, tmp_path):
    found = _convert(tiny_coco, tiny_coco / 'annotations' / 'train.json',
                     tmp_path / 'clean')
    assert found['boxes'] == [] and set(found['counts'].values()) == {0}
    assert not (tmp_path / 'clean' / 'suspicious_boxes.png').exists()


def test_planted_boxes_are_found_drawn_and_dropped(tiny_coco, tmp_path):
    labels = json.loads((tiny_coco / 'annotations' / 'train.json').read_text())
    first = labels['annotations'][0]
    x, y, w, h = first['bbox']
    planted = [
        dict(image_id=1, category_id=3, bbox=[0, 0, 96, 64]),  # the whole image
        dict(image_id=2, category_id=4, bbox=[5, 5, 60, 2]),  # 30:1
        dict(first, bbox=[x, y, w, h]),  # an exact duplicate
        dict(first, bbox=[x + 0.5, y, w, h]),  # a near one
    ]
    next_id = max(a['id'] for a in labels['annotations']) + 1
    for k, annotation in enumerate(planted):
        labels['annotations'].append(dict(annotation, id=next_id + k, area=0,
                                          iscrowd=0))
    path = tiny_coco / 'annotations' / 'planted.json'
    path.write_text(json.dumps(labels))
    try:
        found = _convert(tiny_coco, path, tmp_path / 'kept')
        dropped = _convert(tiny_coco, path, tmp_path / 'dropped',
                           '--drop-suspicious')
    finally:
        path.unlink()
    by_kind = {}
    for box in found['boxes']:
        by_kind.setdefault(box['kind'], []).append(box['annotation']['id'])
    assert by_kind == {'whole_image': [next_id], 'extreme_ratio': [next_id + 1],
                       'duplicate': [next_id + 2, next_id + 3]}
    _check_page(png_pixels(tmp_path / 'kept' / 'suspicious_boxes.png'),
                found['boxes'], tiny_coco)
    # kept in the files without --drop-suspicious, left out with it
    def ids(out):
        return {a['id'] for split in ('train', 'val') for a in json.loads(
            (out / 'annotations' / f'{split}.json').read_text())['annotations']}
    kept, left = ids(tmp_path / 'kept'), ids(tmp_path / 'dropped')
    assert len(kept) == len(labels['annotations'])
    assert len(kept) - len(left) == 4 and dropped['dropped'] is True


def test_area_outliers_are_far_from_their_classs_median():
    rng = np.random.default_rng(0)
    sides = rng.uniform(20, 40, (60, 2))
    sides[7] = (300, 250)  # far larger than its class
    sides[9] = (2, 3)  # far smaller
    xywh = np.c_[np.arange(60) * 50.0, np.zeros(60), sides]  # apart
    found = audit_boxes(xywh, np.arange(60) % 6, np.ones(60, np.int64),
                        np.full(6, 640), np.full(6, 480), np.ones(60, bool),
                        AuditThresholds())
    assert np.flatnonzero(found['area_outlier']).tolist() == [7, 9]
    assert not found['whole_image'].any() and not found['duplicate'].any()
