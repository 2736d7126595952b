"""The synthetic demo data set: the challenge's layout, learnable objects, determinism."""
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
from PIL import Image

from parkdet_challenge.classes import CLASSES
from parkdet_challenge.convert import prepare_data
from parkdet_challenge.demo import make_demo_data
from parkdet_challenge.demo_pictures import COLOURS, MAX_SIDE, MIN_SHORT, OUTLINE
from parkdet_challenge.errors import InputError

REPO = Path(__file__).resolve().parents[2]
TRAIN_NAME = re.compile(
    r'^20\d{6}_[가-힣]+_-_-_[가-힣]+_[가-힣]+_[가-힣]+_(right|left|front|rear)_\d{6}_\d{7}\.png$')


def snapshot(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo set at its defaults (400 train, 60 test, seed 0), made once."""
    root = tmp_path_factory.mktemp('demo') / 'data'
    make_demo_data(root)
    return root


def read(path: Path):
    return json.loads(path.read_text(encoding='utf-8'))


def test_layout_is_the_challenges(demo: Path) -> None:
    train = read(demo / 'train/label/Train.json')
    assert set(train) >= {'images', 'annotations', 'categories'}
    assert len(train['images']) == 400
    assert len({im['id'] for im in train['images']}) == 400
    sized = [im for im in train['images'] if 'width' in im]
    assert 0 < len(sized) < 400  # some entries lack their size, as the real set's may
    assert sorted(p.name for p in (demo / 'train/images').iterdir()) == sorted(
        im['file_name'] for im in train['images'])
    assert all(TRAIN_NAME.match(im['file_name']) for im in train['images'])
    for im in sized[:40]:
        with Image.open(demo / 'train/images' / im['file_name']) as image:
            assert image.size == (im['width'], im['height'])
    assert {a['category_id'] for a in train['annotations']} == set(range(1, 15))
    assert set(train['annotations'][0]) == {'id', 'image_id', 'category_id', 'bbox'}

    test = read(demo / 'Test_Images_Information.json')
    assert list(test) == ['images'] and len(test['images']) == 60
    for im in test['images']:
        assert uuid.UUID(Path(im['file_name']).stem).version == 4
        with Image.open(demo / 'test/images' / im['file_name']) as image:
            assert image.size == (im['width'], im['height'])

    submission = read(demo / 'sample_submission.json')
    test_ids = {im['id'] for im in test['images']}
    assert submission
    for record in submission:
        assert list(record) == ['image_id', 'category_id', 'bbox', 'score', 'segmentation']
        assert record['image_id'] in test_ids and 1 <= record['category_id'] <= 14
        assert all(round(v, 1) == v for v in record['bbox']) and len(record['bbox']) == 4
        assert round(record['score'], 4) == record['score'] and record['segmentation'] == []


def test_objects_are_simple_and_distinct(demo: Path) -> None:
    train = read(demo / 'train/label/Train.json')
    sizes = {im['id']: None for im in train['images']}
    names = {im['id']: im['file_name'] for im in train['images']}
    per_image: Dict[int, list] = {}
    for a in train['annotations']:
        per_image.setdefault(a['image_id'], []).append(a)
    counts = [len(per_image.get(i, [])) for i in sizes]
    assert max(counts) <= 8 and counts.count(0) >= 1
    assert sum(c >= 2 for c in counts) > 0.8 * len(counts)
    # Frequencies are long-tailed, yet every class is there at least ~15 times.
    per_class = np.bincount([a['category_id'] for a in train['annotations']], minlength=15)[1:]
    assert per_class.min() >= 15 and per_class[0] > 5 * per_class.min()
    assert len(set(COLOURS)) == 14

    checked = 0
    for image_id, anns in list(per_image.items())[:60]:
        pixels = np.asarray(Image.open(demo / 'train/images' / names[image_id]).convert('RGB'))
        height, width = pixels.shape[:2]
        for a in anns:
            x, y, w, h = a['bbox']
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
            assert max(w, h) <= MAX_SIDE and min(w, h) >= MIN_SHORT
            others = [b['bbox'] for b in anns if b is not a]
            if any(_intersects(a['bbox'], b, margin=2) for b in others):
                continue
            # The box is tight: its outline touches each side, nothing dark lies just
            # outside, and its centre has its class's colour.
            inside = pixels[y:y + h, x:x + w]
            for edge in (inside[0], inside[-1], inside[:, 0], inside[:, -1]):
                assert (edge == OUTLINE).all(axis=-1).any()
            ring = [pixels[y - 1, x:x + w] if y > 0 else None,
                    pixels[y + h, x:x + w] if y + h < height else None,
                    pixels[y:y + h, x - 1] if x > 0 else None,
                    pixels[y:y + h, x + w] if x + w < width else None]
            for line in ring:
                assert line is None or not (line == OUTLINE).all(axis=-1).any()
            assert tuple(pixels[y + h // 2, x + w // 2]) == COLOURS[a['category_id'] - 1]
            checked += 1
    assert checked > 100


def _intersects(a, b, margin: int) -> bool:
    return (a[0] - margin < b[0] + b[2] and b[0] - margin < a[0] + a[2]
            and a[1] - margin < b[1] + b[3] and b[1] - margin < a[1] + a[3])


def test_every_class_reaches_val_and_test(demo: Path, tmp_path: Path) -> None:
    """With the documented demo split (--val-size 80 of 400), every class is in val."""
    conversion = prepare_data(demo, tmp_path / 'out', val_size=80, plot=False)
    per_class = conversion.report['boxes_per_class']
    assert min(per_class['train'].values()) >= 15
    assert min(per_class['val'].values()) >= 1
    assert conversion.report['problems'] == []
    truth = read(demo / 'test_ground_truth.json')
    assert {a['category_id'] for a in truth['annotations']} == set(range(1, 15))
    assert [c['name'] for c in truth['categories']] == list(CLASSES)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    make_demo_data(tmp_path / 'a', n_train=12, n_test=3, seed=7)
    make_demo_data(tmp_path / 'b', n_train=12, n_test=3, seed=7)
    make_demo_data(tmp_path / 'c', n_train=12, n_test=3, seed=8)
    a = snapshot(tmp_path / 'a')
    assert a == snapshot(tmp_path / 'b')
    assert a != snapshot(tmp_path / 'c')
    # A rerun over an earlier demo replaces it (no strays from the larger first run).
    make_demo_data(tmp_path / 'c', n_train=12, n_test=3, seed=7)
    assert snapshot(tmp_path / 'c') == a


def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / 'mine.txt').write_text('keep me')
    with pytest.raises(InputError, match='not empty'):
        make_demo_data(tmp_path, n_train=4, n_test=1)
    assert [p.name for p in tmp_path.iterdir()] == ['mine.txt']


def test_cli_prints_a_summary_and_converts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools/make_demo_data.py'), str(tmp_path / 'd'),
         '--train', '20', '--test', '3', '--seed', '2'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'wrote 20 train images' in result.stdout
    report = prepare_data(tmp_path / 'd', tmp_path / 'out', val_size=4, plot=False).report
    assert report['images']['kept'] == 20 and report['test_images']['kept'] == 3
    bad = subprocess.run(
        [sys.executable, str(REPO / 'tools/make_demo_data.py'), str(tmp_path / 'e'),
         '--train', '0'], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith('error: ')
    assert 'Traceback' not in bad.stderr
