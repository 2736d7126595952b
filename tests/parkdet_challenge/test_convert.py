"""The challenge-to-COCO converter: input rules, report, split, atomic outputs, CLI."""
import json
import math
import os
import random
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest
from helpers.convert_sets import dump, png, write_set
from PIL import Image

from parkdet_challenge.atomic import atomic_write, write_files_atomic, write_json_atomic
from parkdet_challenge.classes import CLASSES
from parkdet_challenge.convert import convert, prepare_data
from parkdet_challenge.errors import InputError
from parkdet_challenge.formats.inattention2021 import CLASSES as CLASSES_2021

REPO = Path(__file__).resolve().parents[2]
NAME = '20201102_경기도_-_-_맑음_주간_실외_right_{:06d}_{:07d}.png'








@pytest.fixture
def clean_set(tmp_path: Path) -> Path:
    """20 images (non-contiguous ids, two sizes, one negative), 3 test images."""
    rng = random.Random(5)
    images, annotations = [], []
    for k in range(20):
        image_id = 7 + 3 * k
        w, h = (64, 48) if k % 2 else (50, 40)
        entry = {'id': image_id, 'file_name': NAME.format(k, 1000 + k)}
        if k % 4:  # a quarter of the entries lack their size, as the real set may
            entry.update(width=w, height=h)
        images.append(entry)
        for _ in range(0 if k == 3 else rng.randint(1, 3)):
            bw, bh = rng.randint(2, 20), rng.randint(2, 20)
            annotations.append({'id': 500 + len(annotations), 'image_id': image_id,
                                'category_id': rng.randint(1, 14),
                                'bbox': [rng.randint(0, w - bw), rng.randint(0, h - bh),
                                         bw, bh]})
    test = [{'id': i, 'file_name': f'{i:08x}-test.png', 'width': 40, 'height': 30}
            for i in (1000, 7, 42)]
    disk = {e['file_name']: ((64, 48) if k % 2 else (50, 40)) for k, e in enumerate(images)}
    return write_set(tmp_path / 'data', images, annotations, test, disk)


def load(out: Path, name: str) -> Dict:
    return json.loads((out / 'annotations' / name).read_text())


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / 'tools/prepare_data.py'), *args],
                          capture_output=True, text=True, timeout=120)


def snapshot(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


# ------------------------------------------------------------------ clean input

def test_clean_set_gives_complete_coco(clean_set: Path, tmp_path: Path) -> None:
    out = tmp_path / 'out'
    prepare_data(clean_set, out, val_size=5, plot=False)
    source = json.loads((clean_set / 'train/label/Train.json').read_text(encoding='utf-8'))
    train, val, test = load(out, 'train.json'), load(out, 'val.json'), load(out, 'test.json')

    for coco in (train, val, test):
        assert [c['id'] for c in coco['categories']] == list(range(1, 15))
        assert [c['name'] for c in coco['categories']] == list(CLASSES)
        for image in coco['images']:
            path = clean_set / image['file_name']
            assert path.is_file(), image['file_name']
            with Image.open(path) as im:
                assert (image['width'], image['height']) == im.size
    # Split: sizes, disjoint, together every image (the negative one too).
    train_ids = {im['id'] for im in train['images']}
    val_ids = {im['id'] for im in val['images']}
    assert len(val_ids) == 5 and not train_ids & val_ids
    assert train_ids | val_ids == {im['id'] for im in source['images']}
    # Boxes: as given, area w*h, iscrowd 0, on their split's images, ids unique.
    given = sorted((a['image_id'], a['category_id'], tuple(a['bbox']))
                   for a in source['annotations'])
    written = train['annotations'] + val['annotations']
    assert sorted((a['image_id'], a['category_id'], tuple(a['bbox'])) for a in written) == given
    assert all(a['area'] == a['bbox'][2] * a['bbox'][3] and a['iscrowd'] == 0 for a in written)
    assert all(a['image_id'] in val_ids for a in val['annotations'])
    assert len({a['id'] for a in written}) == len(written)
    # Test: challenge ids unchanged, no annotations.
    assert sorted(im['id'] for im in test['images']) == [7, 42, 1000]
    assert test['annotations'] == []
    assert all(im['file_name'].startswith('test/images/') for im in test['images'])


def test_report_counts_balance_and_per_class(clean_set: Path, tmp_path: Path) -> None:
    conversion = prepare_data(clean_set, tmp_path / 'out', val_size=5, plot=False)
    report = json.loads((tmp_path / 'out/report.json').read_text(encoding='utf-8'))
    assert report == json.loads(json.dumps(conversion.report))
    assert report['images'] == {'input': 20, 'kept': 20, 'rejected': 0}
    n = report['annotations']['input']
    assert report['annotations'] == {'input': n, 'kept': n, 'rejected': 0, 'clipped': 0}
    assert report['problems'] == []
    assert report['sizes']['from_header_only'] == 5
    for split in ('train', 'val'):
        coco = load(tmp_path / 'out', f'{split}.json')
        expected = {name: 0 for name in CLASSES}
        for a in coco['annotations']:
            expected[CLASSES[a['category_id'] - 1]] += 1
        assert report['boxes_per_class'][split] == expected


# ------------------------------------------------------------------ input cases

def test_box_rules(tmp_path: Path) -> None:
    nan, inf = float('nan'), float('inf')
    images = [{'id': 1, 'file_name': 'a.png', 'width': 100, 'height': 80},
              {'id': 2, 'file_name': 'b.png', 'width': 100, 'height': 80}]
    cases = {  # input id: (image_id, category_id, bbox, expected kind or None if kept)
        1: (1, 3, [10, 10, 20, 20], None),
        2: (1, 3, [-10, 5, 30, 20], 'box_clipped'),
        3: (1, 3, [90, 70, 20, 30], 'box_clipped'),
        4: (1, 3, [120, 10, 10, 10], 'box_outside'),
        5: (1, 3, [-30, 10, 20, 10], 'box_outside'),
        6: (1, 3, [10, 10, 0, 5], 'box_empty'),
        7: (1, 3, [10, 10, 5, -5], 'box_empty'),
        8: (1, 3, [nan, 1, 2, 3], 'box_malformed'),
        9: (1, 3, [1, 1, inf, 3], 'box_malformed'),
        10: (1, 3, [True, 1, 2, 3], 'box_malformed'),
        11: (1, 3, ['1', 1, 2, 3], 'box_malformed'),
        12: (1, 3, [1, 2, 3], 'box_malformed'),
        13: (1, 3, [1, 2, 3, 4, 5], 'box_malformed'),
        14: (1, 3, None, 'box_malformed'),
        15: (1, 0, [1, 1, 5, 5], 'bad_category'),
        16: (1, 15, [1, 1, 5, 5], 'bad_category'),
        17: (1, '3', [1, 1, 5, 5], 'bad_category'),
        18: (1, True, [1, 1, 5, 5], 'bad_category'),
        19: (999, 3, [1, 1, 5, 5], 'unknown_image'),
        20: (True, 3, [1, 1, 5, 5], 'unknown_image'),
        21: (2, 14, [0.5, 0.25, 99.5, 79.75], None),
        22: (2, 1, [10 ** 400, 1, 2, 3], 'box_malformed'),  # no float holds it
    }
    annotations: List[Any] = [{'id': k, 'image_id': i, 'category_id': c, 'bbox': b}
                              for k, (i, c, b, _) in cases.items()]
    annotations.append({'id': 23, 'image_id': 1, 'category_id': 3})  # no bbox
    annotations.append(['not', 'an', 'object'])
    write_set(tmp_path, images, annotations)
    # json.dumps writes NaN / Infinity, which Python's json reads back: as in the wild.
    report = convert(tmp_path, val_size=0).report

    kinds = {p['annotation']['id']: p['kind'] for p in report['problems']}
    expected = {k: kind for k, (*_, kind) in cases.items() if kind}
    expected[23] = 'annotation_malformed'
    expected[None] = 'annotation_malformed'
    assert kinds == expected
    rejected = sum(kind != 'box_clipped' for kind in expected.values())
    assert report['annotations'] == {'input': 24, 'kept': 24 - rejected,
                                     'rejected': rejected, 'clipped': 2}
    for p in report['problems']:
        assert p['action'] and p['detail'] and p['source'] == 'train'
    kept = convert(tmp_path, val_size=0).outputs['annotations/train.json']['annotations']
    assert [0.5, 0.25, 99.5, 79.75] in [a['bbox'] for a in kept]


def test_clipped_boxes_are_clipped(tmp_path: Path) -> None:
    images = [{'id': 1, 'file_name': 'a.png', 'width': 100, 'height': 80}]
    annotations = [{'id': 1, 'image_id': 1, 'category_id': 2, 'bbox': [-10, 5, 30, 20]},
                   {'id': 2, 'image_id': 1, 'category_id': 2, 'bbox': [90, 70, 20, 30]}]
    write_set(tmp_path, images, annotations)
    boxes = [a['bbox'] for a in convert(tmp_path, val_size=0).outputs[
        'annotations/train.json']['annotations']]
    assert boxes == [[0, 5, 20, 20], [90, 70, 10, 10]]
    # Integer input stays integer; any float in the file makes every box float.
    assert {type(v) for box in boxes for v in box} == {int}
    annotations[0]['bbox'][0] = -10.0
    write_set(tmp_path, images, annotations)
    boxes = [a['bbox'] for a in convert(tmp_path, val_size=0).outputs[
        'annotations/train.json']['annotations']]
    assert {type(v) for box in boxes for v in box} == {float}


def test_images_missing_or_unreadable_are_rejected_with_their_boxes(tmp_path: Path) -> None:
    names = ['ok.png', 'missing.png', 'garbage.png', 'truncated.png', 'empty.png']
    images = [{'id': i + 1, 'file_name': n} for i, n in enumerate(names)]
    annotations = [{'id': 10 * (i + 1) + j, 'image_id': i + 1, 'category_id': 1,
                    'bbox': [1, 1, 5, 5]} for i in range(5) for j in range(i + 1)]
    write_set(tmp_path, images, annotations, disk={'missing.png': None})
    folder = tmp_path / 'train/images'
    (folder / 'garbage.png').write_text('this is not an image')
    (folder / 'truncated.png').write_bytes((folder / 'ok.png').read_bytes()[:20])
    (folder / 'empty.png').write_bytes(b'')
    conversion = convert(tmp_path, val_size=0)
    report = conversion.report

    problems = {p['image_id']: p for p in report['problems']}
    assert problems[2]['kind'] == 'image_missing'
    assert {problems[i]['kind'] for i in (3, 4, 5)} == {'image_unreadable'}
    for i in (2, 3, 4, 5):
        assert problems[i]['file_name'] == names[i - 1]
        assert f'with its {i} boxes' in problems[i]['action']
    assert report['images'] == {'input': 5, 'kept': 1, 'rejected': 4}
    assert report['annotations'] == {'input': 15, 'kept': 1, 'rejected': 14, 'clipped': 0}
    train = conversion.outputs['annotations/train.json']
    assert [im['id'] for im in train['images']] == [1]
    assert [a['image_id'] for a in train['annotations']] == [1]


def test_size_from_header_wins_over_json(tmp_path: Path) -> None:
    images = [{'id': 1, 'file_name': 'a.png', 'width': 640, 'height': 480},
              {'id': 2, 'file_name': 'b.png'}]
    write_set(tmp_path, images, [], disk={'a.png': (64, 48), 'b.png': (30, 20)})
    conversion = convert(tmp_path, val_size=0)
    sizes = {im['id']: (im['width'], im['height'])
             for im in conversion.outputs['annotations/train.json']['images']}
    assert sizes == {1: (64, 48), 2: (30, 20)}
    [problem] = conversion.report['problems']
    assert problem['kind'] == 'size_mismatch' and problem['image_id'] == 1
    assert '640x480' in problem['detail'] and '64x48' in problem['detail']


def test_boxes_are_clipped_to_the_header_size(tmp_path: Path) -> None:
    """A JSON size larger than the file must not let a box escape the real image."""
    images = [{'id': 1, 'file_name': 'a.png', 'width': 640, 'height': 480}]
    annotations = [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [50, 40, 100, 100]}]
    write_set(tmp_path, images, annotations, disk={'a.png': (64, 48)})
    [ann] = convert(tmp_path, val_size=0).outputs['annotations/train.json']['annotations']
    assert ann['bbox'] == [50, 40, 14, 8]


@pytest.mark.parametrize('json_form,disk_form', [('NFC', 'NFD'), ('NFD', 'NFC')])
def test_unicode_normalization_resolves_to_the_file_on_disk(
        tmp_path: Path, json_form: str, disk_form: str) -> None:
    name = NAME.format(1, 2)
    on_disk = unicodedata.normalize(disk_form, name)
    in_json = unicodedata.normalize(json_form, name)
    assert on_disk != in_json
    images = [{'id': 1, 'file_name': in_json}]
    annotations = [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [1, 1, 5, 5]}]
    write_set(tmp_path, images, annotations, disk={in_json: None})
    png(tmp_path / 'train/images' / on_disk, 64, 48)
    conversion = convert(tmp_path, val_size=0)
    [image] = conversion.outputs['annotations/train.json']['images']
    assert image['file_name'] == f'train/images/{on_disk}'
    assert (tmp_path / image['file_name']).is_file()
    assert conversion.report['problems'] == []


# ------------------------------------------------------------------ split and determinism

def test_split_depends_on_ids_and_seed_not_on_json_order(clean_set: Path,
                                                         tmp_path: Path) -> None:
    def val_ids(root: Path, seed: int = 100) -> List[int]:
        coco = convert(root, val_size=6, seed=seed).outputs['annotations/val.json']
        return [im['id'] for im in coco['images']]

    labels = json.loads((clean_set / 'train/label/Train.json').read_text(encoding='utf-8'))
    random.Random(1).shuffle(labels['images'])
    random.Random(2).shuffle(labels['annotations'])
    shuffled = tmp_path / 'shuffled'
    (shuffled / 'train').mkdir(parents=True)
    os.symlink(clean_set / 'train/images', shuffled / 'train/images')
    os.symlink(clean_set / 'test', shuffled / 'test')
    os.symlink(clean_set / 'Test_Images_Information.json',
               shuffled / 'Test_Images_Information.json')
    dump(shuffled / 'train/label/Train.json', labels)

    assert val_ids(shuffled) == val_ids(clean_set)
    assert val_ids(clean_set, seed=101) != val_ids(clean_set)
    # The documented rule: a RandomState(seed) permutation of the sorted ids.
    ids = sorted(im['id'] for im in labels['images'])
    rule = sorted(np.array(ids)[np.random.RandomState(100).permutation(len(ids))[:6]].tolist())
    assert val_ids(clean_set) == rule


def test_reruns_are_byte_identical(clean_set: Path, tmp_path: Path) -> None:
    prepare_data(clean_set, tmp_path / 'a', val_size=5)
    prepare_data(clean_set, tmp_path / 'b', val_size=5)
    a, b = snapshot(tmp_path / 'a'), snapshot(tmp_path / 'b')
    assert sorted(a) == ['annotations/classes.json', 'annotations/test.json',
                         'annotations/train.json', 'annotations/val.json',
                         'class_distribution.png', 'report.json']
    assert a == b
    with Image.open(tmp_path / 'a/class_distribution.png') as chart:
        assert chart.format == 'PNG' and chart.size[0] >= 600


def test_outputs_do_not_depend_on_the_image_list_order(clean_set: Path,
                                                       tmp_path: Path) -> None:
    before = prepare_data(clean_set, tmp_path / 'a', val_size=5, plot=False)
    path = clean_set / 'train/label/Train.json'
    labels = json.loads(path.read_text(encoding='utf-8'))
    labels['images'].reverse()
    dump(path, labels)
    after = prepare_data(clean_set, tmp_path / 'b', val_size=5, plot=False)
    assert before.outputs == after.outputs
    assert snapshot(tmp_path / 'a') == snapshot(tmp_path / 'b')


# ------------------------------------------------------------------ fatal input, CLI

def _truncate(root: Path) -> None:
    path = root / 'train/label/Train.json'
    path.write_bytes(path.read_bytes()[:-40])


def _duplicate_id(root: Path) -> None:
    path = root / 'train/label/Train.json'
    labels = json.loads(path.read_text(encoding='utf-8'))
    labels['images'][4]['id'] = labels['images'][1]['id']
    dump(path, labels)


def _duplicate_test_id(root: Path) -> None:
    dump(root / 'Test_Images_Information.json',
         {'images': [{'id': 5, 'file_name': 'x.png'}, {'id': 5, 'file_name': 'y.png'}]})


def _image_without_id(root: Path) -> None:
    path = root / 'train/label/Train.json'
    labels = json.loads(path.read_text(encoding='utf-8'))
    labels['images'][2]['id'] = '12'
    dump(path, labels)


FATAL = {
    'missing labels': (lambda r: (r / 'train/label/Train.json').unlink(), 'Train.json'),
    'truncated labels': (_truncate, 'Train.json: not valid JSON'),
    'top level list': (lambda r: dump(r / 'train/label/Train.json', []), 'Train.json'),
    'images not a list': (lambda r: dump(r / 'train/label/Train.json',
                                         {'images': {}, 'annotations': []}), 'Train.json'),
    'duplicate image id': (_duplicate_id, 'duplicate image id'),
    'image id not an int': (_image_without_id, 'images[2]'),
    'missing test info': (lambda r: (r / 'Test_Images_Information.json').unlink(),
                          'Test_Images_Information.json'),
    'duplicate test id': (_duplicate_test_id, 'Test_Images_Information.json: duplicate'),
    'truncated test info': (lambda r: (r / 'Test_Images_Information.json').write_text(
        '{"images": [{"id": 1,'), 'Test_Images_Information.json: not valid JSON'),
}


@pytest.mark.parametrize('case', sorted(FATAL))
def test_fatal_input_is_one_line_and_writes_nothing(clean_set: Path, tmp_path: Path,
                                                    case: str) -> None:
    break_it, message = FATAL[case]
    break_it(clean_set)
    result = cli('--data-root', str(clean_set), '--out-dir', str(tmp_path / 'out'),
                 '--val-size', '5')
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 'out').exists()


def test_fatal_input_leaves_earlier_outputs_untouched(clean_set: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / 'out'
    ok = cli('--data-root', str(clean_set), '--out-dir', str(out), '--val-size', '5')
    assert ok.returncode == 0, ok.stderr
    assert 'boxes' in ok.stdout and 'split' in ok.stdout
    before = snapshot(out)
    _duplicate_id(clean_set)
    failed = cli('--data-root', str(clean_set), '--out-dir', str(out), '--val-size', '5')
    assert failed.returncode == 2
    assert snapshot(out) == before  # and no temporary files beside them


def test_val_size_must_leave_training_images(clean_set: Path) -> None:
    with pytest.raises(InputError, match='--val-size 20 leaves no training images'):
        convert(clean_set, val_size=20)
    assert len(convert(clean_set, val_size=19).outputs['annotations/train.json']['images']) == 1


def test_missing_image_folder_is_fatal(clean_set: Path) -> None:
    (clean_set / 'train/images').rename(clean_set / 'elsewhere')
    with pytest.raises(InputError, match='train/images'):
        convert(clean_set, val_size=5)


# ------------------------------------------------------------------ atomic writes

def test_write_files_atomic_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / 'a.json').write_text('old')
    (tmp_path / 'blocker').write_text('a file where a folder should be')
    with pytest.raises(OSError):
        write_files_atomic({tmp_path / 'a.json': b'new',
                            tmp_path / 'blocker/b.json': b'new'})
    assert (tmp_path / 'a.json').read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.json', 'blocker']


def test_atomic_write_keeps_old_content_on_error(tmp_path: Path) -> None:
    target = tmp_path / 'f.json'
    write_json_atomic(target, {'v': 1})
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b'partial')
            raise RuntimeError('boom')
    assert json.loads(target.read_text()) == {'v': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['f.json']
    with atomic_write(target) as f:
        f.write(b'{"v": 2}')
    assert json.loads(target.read_text()) == {'v': 2}
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # umask, not mkstemp's 0600


# ------------------------------------------------------------------ the 2021 format

def _objects(*classes: str) -> List[Dict]:
    return [{'class': c, 'position': [2 + 3 * k, 2, 10 + 3 * k, 12]}
            for k, c in enumerate(classes)]


def write_2021(root: Path, entries: Sequence[Dict]) -> Path:
    for entry in entries:
        png(root / 'train/images' / entry['file_name'], 40, 30)
    dump(root / 'train/label/Train.json', {'annotations': list(entries)})
    return root


def test_2021_format_is_read_with_its_classes(tmp_path: Path) -> None:
    entries = [
        {'file_name': 'c_운전자.png', 'objects': _objects('face', 'phone')},
        {'file_name': 'a_운전자.png', 'objects': _objects('eye_opened', 'smoking')},
        {'file_name': 'b_운전자.png', 'objects': [
            {'class': 'cigar', 'position': [30, 20, 50, 40]},  # clipped to 40x30
            {'class': 'face', 'position': [10, 10, 5, 20]},  # x2 < x1
            {'class': 'face'}]},
        {'file_name': 'd_운전자.png'},  # no objects: a negative image
    ]
    report = convert(write_2021(tmp_path, entries), val_size=0).report
    coco = convert(tmp_path, val_size=0).outputs['annotations/train.json']

    assert report['format'] == 'inattention2021'
    assert [c['name'] for c in coco['categories']] == list(CLASSES_2021)
    assert 'annotations/test.json' not in convert(tmp_path, val_size=0).outputs
    # Ids by sorted file name; boxes as [x, y, w, h].
    names = {im['id']: im['file_name'] for im in coco['images']}
    assert names == {1: 'train/images/a_운전자.png', 2: 'train/images/b_운전자.png',
                     3: 'train/images/c_운전자.png', 4: 'train/images/d_운전자.png'}
    boxes = sorted((a['image_id'], CLASSES_2021[a['category_id'] - 1], tuple(a['bbox']))
                   for a in coco['annotations'])
    assert boxes == [(1, 'eye_opened', (2, 2, 8, 10)), (2, 'cigar', (30, 20, 10, 10)),
                     (3, 'face', (2, 2, 8, 10)), (3, 'phone', (5, 2, 8, 10))]
    kinds = sorted((p['image_id'], p['kind']) for p in report['problems'])
    assert kinds == [(1, 'bad_category'), (2, 'annotation_malformed'), (2, 'box_clipped'),
                     (2, 'box_empty')]
    assert report['annotations'] == {'input': 7, 'kept': 4, 'rejected': 3, 'clipped': 1}


def test_2021_diet_rules(tmp_path: Path) -> None:
    entries = [
        {'file_name': 'k01.png', 'objects': _objects('cigar', 'face')},
        {'file_name': 'k02.png', 'objects': _objects('phone')},
        {'file_name': 'k03.png', 'objects': _objects('eye_closed', 'mouth_closed')},
        {'file_name': 'k04.png', 'objects': _objects('eye_closed', 'mouth_opened')},
        {'file_name': 'x05.png', 'objects': _objects('eye_closed', 'face')},
        {'file_name': 'x06.png', 'objects': _objects('eye_opened', 'mouth_closed')},
        {'file_name': 'x07.png', 'objects': []},
    ] + [{'file_name': f'm{k:02d}.png', 'objects': _objects('eye_opened', 'mouth_opened')}
         for k in range(7)]  # only mouth_opened: the 3rd and 6th (file order) kept
    out = tmp_path / 'out'
    prepare_data(write_2021(tmp_path / 'data', entries), out, val_size=0, diet=True,
                 plot=False)
    diet = load(out, 'train_diet.json')
    kept = sorted(Path(im['file_name']).name for im in diet['images'])
    assert kept == ['k01.png', 'k02.png', 'k03.png', 'k04.png', 'm02.png', 'm05.png']
    diet_images = {im['id'] for im in diet['images']}
    train = load(out, 'train.json')
    assert diet['annotations'] == [a for a in train['annotations']
                                   if a['image_id'] in diet_images]
    report = json.loads((out / 'report.json').read_text(encoding='utf-8'))
    assert report['diet'] == {'images': 6, 'boxes': len(diet['annotations'])}


def test_diet_needs_2021_data(clean_set: Path) -> None:
    with pytest.raises(InputError, match='2021 format only'):
        convert(clean_set, val_size=5, diet=True)


# ------------------------------------------------------------------ consumers

def test_demo_data_loads_in_pycocotools_and_mmyolo(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    from parkdet_challenge.demo import make_demo_data

    data, out = tmp_path / 'demo', tmp_path / 'out'
    make_demo_data(data, n_train=24, n_test=4, seed=1)
    prepare_data(data, out, val_size=6, plot=False)
    for name in ('train', 'val', 'test'):
        coco = COCO(str(out / f'annotations/{name}.json'))
        assert len(coco.getCatIds()) == 14 and coco.getImgIds()
    coco = COCO(str(out / 'annotations/train.json'))
    assert coco.getAnnIds() and math.isclose(
        sum(a['area'] for a in coco.loadAnns(coco.getAnnIds())),
        sum(a['bbox'][2] * a['bbox'][3] for a in coco.loadAnns(coco.getAnnIds())))

    from mmengine.registry import init_default_scope

    from mmyolo.datasets import YOLOv5CocoDataset
    init_default_scope('mmyolo')
    dataset = YOLOv5CocoDataset(
        data_root=str(data), ann_file=str(out / 'annotations/train.json'),
        data_prefix=dict(img=''), metainfo=dict(classes=CLASSES),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='mmdet.LoadAnnotations', with_bbox=True)])
    assert len(dataset) == 18
    with_boxes = next(i for i in range(len(dataset))
                      if dataset.get_data_info(i)['instances'])
    sample = dataset[with_boxes]
    info = dataset.get_data_info(with_boxes)
    assert sample['img'].shape == (info['height'], info['width'], 3)
    expected = np.array([inst['bbox'] for inst in info['instances']], np.float32)
    assert np.allclose(np.asarray(sample['gt_bboxes'].tensor), expected)
    assert sample['gt_bboxes_labels'].min() >= 0 and sample['gt_bboxes_labels'].max() < 14


def test_data_stage_imports_no_heavy_stack() -> None:
    """The converter and the generator start fast: no torch, OpenMMLab, cv2, or
    matplotlib (that one only when the chart is drawn)."""
    code = ('import sys, parkdet_challenge.convert, parkdet_challenge.demo; '
            'print(sorted(m for m in ("torch", "mmengine", "mmcv", "mmdet", "mmyolo", '
            '"cv2", "matplotlib") if m in sys.modules))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
