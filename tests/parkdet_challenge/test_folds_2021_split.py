"""2021 split (docs/reference.md section 9: Python's random.sample over the labels
file), 2021 test listing, and k-fold splits (partition, stratified, stable) in both formats."""
import json
import random
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from helpers.convert_sets import dump, png, write_set

from parkdet_challenge.convert import convert, prepare_data
from parkdet_challenge.errors import InputError
from parkdet_challenge.formats.inattention2021 import CLASSES as CLASSES_2021
from parkdet_challenge.splits import stratified_folds


def write_2021_set(root: Path, n: int, seed: int = 0, test: int = 0) -> List[Dict]:
    """``n`` labelled 2021 images in a shuffled file order (names not sorted), classes
    drawn unevenly; ``test`` unlabelled images in test/images/."""
    rng = random.Random(seed)
    names = [f'img_{k:04d}.png' for k in range(n)]
    rng.shuffle(names)
    weights = (40, 10, 6, 20, 50, 3, 2)
    entries = []
    for name in names:
        png(root / 'train/images' / name, 32, 24)
        classes = rng.choices(CLASSES_2021, weights=weights, k=rng.randint(0, 3))
        entries.append({'file_name': name, 'objects': [
            {'class': c, 'position': [1 + 2 * k, 1, 9 + 2 * k, 9]}
            for k, c in enumerate(classes)]})
    dump(root / 'train/label/Train.json', {'annotations': entries})
    for k in range(test):
        png(root / 'test/images' / f'{k:08x}-test.png', 32, 24)
    return entries


def names_of(coco: Dict) -> List[str]:
    return sorted(Path(im['file_name']).name for im in coco['images'])


def test_2021_val_is_the_references_random_sample(tmp_path: Path) -> None:
    entries = write_2021_set(tmp_path, 60)
    outputs = convert(tmp_path, val_size=17).outputs
    random.seed(100)  # the reference's own calls (docs/reference.md section 9)
    drawn = random.sample(range(len(entries)), 17)
    assert names_of(outputs['annotations/val.json']) == sorted(
        entries[i]['file_name'] for i in drawn)
    assert len(outputs['annotations/train.json']['images']) == 60 - 17


def test_2021_defaults_to_20000_val_images(tmp_path: Path) -> None:
    write_2021_set(tmp_path, 30)
    with pytest.raises(InputError, match='--val-size 20000 leaves no training images'):
        convert(tmp_path)


def test_2021_test_images_are_listed_from_the_folder(tmp_path: Path) -> None:
    write_2021_set(tmp_path, 10, test=3)
    (tmp_path / 'test/images/notes.txt').write_text('not an image')
    test = convert(tmp_path, val_size=2).outputs['annotations/test.json']
    assert [(im['id'], im['file_name']) for im in test['images']] == [
        (k + 1, f'test/images/{k:08x}-test.png') for k in range(3)]


def _present(coco: Dict, num_classes: int) -> Dict[int, set]:
    per_class: Dict[int, set] = {c: set() for c in range(1, num_classes + 1)}
    for a in coco['annotations']:
        per_class[a['category_id']].add(a['image_id'])
    return per_class


@pytest.mark.parametrize('fmt', ['2021', '2022'])
def test_folds_partition_are_stratified_and_stable(tmp_path: Path, fmt: str) -> None:
    if fmt == '2021':
        write_2021_set(tmp_path / 'data', 120)
        num_classes = len(CLASSES_2021)
    else:
        rng = random.Random(3)
        images = [{'id': 10 + 3 * k, 'file_name': f'p{k:03d}.png', 'width': 40,
                   'height': 30} for k in range(120)]
        annotations = [{'id': j, 'image_id': im['id'],
                        'category_id': rng.choices(range(1, 15), weights=range(15, 1, -1))[0],
                        'bbox': [2, 2, 10, 10]}
                       for j, im in enumerate(images * 2) if rng.random() < 0.7]
        write_set(tmp_path / 'data', images, annotations)
        num_classes = 14
    k = 4
    out = tmp_path / 'out'
    conversion = prepare_data(tmp_path / 'data', out, val_size=10, folds=k, plot=False)
    load = lambda rel: json.loads((out / 'annotations' / rel).read_text())  # noqa: E731
    train_all = {im['id'] for im in load('train.json')['images']} | {
        im['id'] for im in load('val.json')['images']}
    vals = [{im['id'] for im in load(f'fold{f}/val.json')['images']} for f in range(k)]
    # A partition of the images: disjoint, all covered, train = the other folds.
    assert sum(map(len, vals)) == len(train_all) == len(set().union(*vals))
    assert set().union(*vals) == train_all
    for f in range(k):
        train_f = {im['id'] for im in load(f'fold{f}/train.json')['images']}
        assert train_f == train_all - vals[f]
        if fmt == '2021':
            diet_f = {im['id'] for im in load(f'fold{f}/train_diet.json')['images']}
            assert diet_f <= train_f and diet_f
    # Stratified: each class's images split over the folds within one of even.
    everything = load('train.json')
    everything['annotations'] += load('val.json')['annotations']
    for c, holders in _present(everything, num_classes).items():
        counts = [len(holders & v) for v in vals]
        assert max(counts) - min(counts) <= 1, (c, counts)
    sizes = [len(v) for v in vals]
    assert max(sizes) - min(sizes) <= 1
    assert [conversion.report['folds'][f'fold{f}']['images'] for f in range(k)] == sizes
    # Stable: the same seed gives the same bytes; another seed other folds.
    again = convert(tmp_path / 'data', val_size=10, folds=k).outputs
    for f in range(k):
        assert again[f'annotations/fold{f}/val.json'] == load(f'fold{f}/val.json')
    other = convert(tmp_path / 'data', val_size=10, folds=k, seed=7).outputs
    assert any(other[f'annotations/fold{f}/val.json'] != load(f'fold{f}/val.json')
               for f in range(k))


def test_stratified_folds_rare_class_spreads_and_seed_is_stable() -> None:
    rng = np.random.RandomState(0)
    present = rng.random_sample((1000, 5)) < [0.5, 0.2, 0.05, 0.01, 0.003]
    fold_of = stratified_folds(present, 5, seed=1)
    assert np.array_equal(fold_of, stratified_folds(present, 5, seed=1))
    for c in range(5):
        counts = np.bincount(fold_of[present[:, c]], minlength=5)
        assert counts.max() - counts.min() <= 1, (c, counts)
    assert np.bincount(fold_of, minlength=5).tolist() == [200] * 5


@pytest.mark.parametrize('folds', [1, -2])
def test_bad_fold_count_is_refused(tmp_path: Path, folds: int) -> None:
    write_2021_set(tmp_path, 10)
    with pytest.raises(InputError, match='--folds'):
        convert(tmp_path, val_size=2, folds=folds)


def test_demo_data_2021_format_converts_and_matches_its_ground_truth(tmp_path: Path) -> None:
    from parkdet_challenge.demo import make_demo_data
    summary = make_demo_data(tmp_path, n_train=30, n_test=5, data_format='2021')
    assert set(summary.train_boxes_per_class) == set(CLASSES_2021)
    conversion = convert(tmp_path, val_size=6)
    assert conversion.report['format'] == 'inattention2021'
    assert conversion.report['diet']['images'] > 0
    truth = json.loads((tmp_path / 'test_ground_truth.json').read_text())
    test = conversion.outputs['annotations/test.json']
    assert [(im['id'], Path(im['file_name']).name) for im in test['images']] == [
        (im['id'], im['file_name']) for im in truth['images']]
    sample = json.loads((tmp_path / 'sample_submission.json').read_text())
    assert all(entry['file_name'].endswith('.jpg') for entry in sample['annotations'])
