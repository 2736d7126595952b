"""Image data verification in the converter (tools/prepare_data.py): broken files are
rejected with their boxes, as YOLOv5 set them aside when it built its label cache."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parkdet_challenge.imagefiles import read_image_size, read_image_sizes, verify_image

REPO = Path(__file__).resolve().parents[2]


def noise_image(path: Path, size=(64, 48), fmt=None) -> bytes:
    """A picture of noise (so its compressed data spans many bytes); its bytes."""
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path.read_bytes()


@pytest.fixture
def broken(tmp_path):
    """Good and broken files: name -> path."""
    files = {}
    good = noise_image(tmp_path / 'good.png')
    files['good.png'] = tmp_path / 'good.png'
    files['cut_in_half.png'] = tmp_path / 'cut_in_half.png'
    files['cut_in_half.png'].write_bytes(good[:len(good) // 2])
    files['garbage.png'] = tmp_path / 'garbage.png'  # a good header, then noise
    files['garbage.png'].write_bytes(
        good[:33] + np.random.default_rng(1).bytes(len(good) - 33))
    files['text.png'] = tmp_path / 'text.png'
    files['text.png'].write_text('this is not an image')
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF  # inside the pixel data: its CRC no longer matches
    files['bit_flip.png'] = tmp_path / 'bit_flip.png'
    files['bit_flip.png'].write_bytes(bytes(flipped))
    jpeg = noise_image(tmp_path / 'good.jpg', fmt='JPEG')
    files['good.jpg'] = tmp_path / 'good.jpg'
    files['cut.jpg'] = tmp_path / 'cut.jpg'
    files['cut.jpg'].write_bytes(jpeg[:-100])
    return files


def test_verify_rejects_what_the_header_misses(broken):
    assert verify_image(str(broken['good.png'])) == (64, 48)
    assert verify_image(str(broken['good.jpg'])) == (64, 48)
    # the header of a file cut in half still reads: that is why data is verified
    assert read_image_size(broken['cut_in_half.png']) == (64, 48)
    for name in ('cut_in_half.png', 'garbage.png', 'text.png', 'bit_flip.png',
                 'cut.jpg'):
        with pytest.raises(ValueError, match='broken image data'):
            verify_image(str(broken[name]))


def test_parallel_verification_matches_one_process(broken):
    paths = [str(p) for p in broken.values()] * 3
    one = read_image_sizes(paths, verify=True, workers=1)
    assert read_image_sizes(paths, verify=True, workers=2) == one
    assert [isinstance(r, tuple) for r in one[:len(broken)]] == \
        [name.startswith('good') for name in broken]


def _data_set(root: Path) -> None:
    """2022 layout: 4 train images (2 broken), 2 test images (1 broken)."""
    images = root / 'train/images'
    images.mkdir(parents=True)
    (root / 'train/label').mkdir()
    (root / 'test/images').mkdir(parents=True)
    good = noise_image(images / 'a.png')
    (images / 'b.png').write_bytes(good)
    (images / 'cut.png').write_bytes(good[:len(good) // 2])
    (images / 'garbage.png').write_bytes(
        good[:33] + np.random.default_rng(1).bytes(len(good) - 33))
    (root / 'test/images/t1.png').write_bytes(good)
    (root / 'test/images/t2.png').write_bytes(good[:len(good) // 2])
    names = ['a.png', 'b.png', 'cut.png', 'garbage.png']
    labels = {
        'images': [{'id': i + 1, 'file_name': n, 'width': 64, 'height': 48}
                   for i, n in enumerate(names)],
        'annotations': [{'id': 10 * (i + 1) + j, 'image_id': i + 1, 'category_id': 1,
                         'bbox': [1, 1, 5, 5]} for i in range(4) for j in range(i + 1)],
        'categories': [{'id': 1, 'name': 'sedan'}]}
    (root / 'train/label/Train.json').write_text(json.dumps(labels))
    (root / 'Test_Images_Information.json').write_text(json.dumps(
        {'images': [{'id': 1, 'file_name': 't1.png'}, {'id': 2, 'file_name': 't2.png'}]}))


def _prepare(root: Path, out: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/prepare_data.py'), '--data-root', str(root),
         '--out-dir', str(out), '--val-size', '0', '--no-plot', *args],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((out / 'report.json').read_text())


def test_converter_rejects_broken_images_with_their_boxes(tmp_path):
    _data_set(tmp_path / 'data')
    report = _prepare(tmp_path / 'data', tmp_path / 'out', '--workers', '2')
    problems = {(p['source'], p['file_name']): p for p in report['problems']}
    assert set(problems) == {('train', 'cut.png'), ('train', 'garbage.png'),
                             ('test', 't2.png')}
    for problem in problems.values():
        assert problem['kind'] == 'image_unreadable'
        assert problem['detail'].startswith('broken image data')
    assert problems['train', 'cut.png']['action'] == 'rejected with its 3 boxes'
    assert problems['train', 'garbage.png']['action'] == 'rejected with its 4 boxes'
    assert report['images'] == {'input': 4, 'kept': 2, 'rejected': 2}
    assert report['annotations']['kept'] == 3
    train = json.loads((tmp_path / 'out/annotations/train.json').read_text())
    assert [im['file_name'] for im in train['images']] == ['train/images/a.png',
                                                           'train/images/b.png']
    test = json.loads((tmp_path / 'out/annotations/test.json').read_text())
    assert [im['id'] for im in test['images']] == [1]

    # --no-verify: headers only, and both broken files have a good header
    report = _prepare(tmp_path / 'data', tmp_path / 'out2', '--no-verify')
    assert report['problems'] == []
    assert report['images'] == {'input': 4, 'kept': 4, 'rejected': 0}
