"""The inattention2021 format's submission (docs/reference.md section 9) and its size cap against
brute force."""
import json
import random
from pathlib import Path

import numpy as np
import pytest

from parkdet_challenge.formats import get_format
from parkdet_challenge.formats.inattention2021 import cap_entries, entry, serialize

FORMAT = get_format('inattention2021')


def test_entry_is_the_references_form() -> None:
    made = entry('test/images/abc-01.png', [[1.04, 2.06, 30.449, 40.0],
                                            [5, 6, 7, 8]],
                 [0.123456, 0.9], ['face', 'phone'])
    assert made == {'file_name': 'abc-01.jpg', 'objects': [
        {'class': 'phone', 'position': [5.0, 6.0, 7.0, 8.0], 'confidence_score': 0.9},
        {'class': 'face', 'position': [1.0, 2.1, 30.4, 40.0],
         'confidence_score': 0.1235}]}
    assert list(made['objects'][0]) == ['class', 'position', 'confidence_score']
    empty = entry('x.jpg', np.zeros((0, 4)), [], [])
    assert empty == {'file_name': 'x.jpg', 'objects': {}}
    text = serialize([made, empty])
    assert text == json.dumps({'annotations': [made, empty]})
    assert text.endswith('{"file_name": "x.jpg", "objects": {}}]}')


def _entries(seed: int, n_images: int = 12):
    rng = random.Random(seed)
    entries = []
    for k in range(n_images):
        n = rng.choice([0, 0, 1, 3, 6])
        boxes = [[rng.uniform(0, 50), rng.uniform(0, 50), rng.uniform(50, 200),
                  rng.uniform(50, 200)] for _ in range(n)]
        # few distinct scores, so that the cut falls in ties
        scores = [rng.choice([0.1, 0.25, 0.5, 0.75, 0.9, rng.random()]) for _ in range(n)]
        entries.append(entry(f'img{k}.png', boxes, scores,
                                  [rng.choice(['face', 'cigar']) for _ in range(n)]))
    return entries


def _brute_force(entries, max_bytes):
    """The largest file, over all cut-offs, strictly under max_bytes."""
    cutoffs = sorted({o['confidence_score'] for e in entries for o in e['objects'] or []})
    best = serialize([dict(e, objects={}) for e in entries])
    for cutoff in cutoffs:
        kept = [dict(e, objects=[o for o in e['objects'] or []
                                 if o['confidence_score'] >= cutoff] or {})
                for e in entries]
        text = serialize(kept)
        if len(text) < max_bytes:
            return text
    return best


@pytest.mark.parametrize('seed', range(6))
def test_cap_matches_brute_force(seed: int) -> None:
    entries = _entries(seed)
    full = serialize(entries)
    for max_bytes in (len(full) + 1, len(full), len(full) * 2 // 3, len(full) // 3,
                      len(serialize([dict(e, objects={}) for e in entries])) + 1):
        text, result = cap_entries(entries, max_bytes)
        assert text == _brute_force(entries, max_bytes), max_bytes
        assert len(text) == result.size_bytes < max_bytes
        assert json.loads(text)['annotations'][0]['file_name'] == 'img0.jpg'
    assert cap_entries(entries, len(full) + 1)[0] == full


def test_cap_refuses_a_cap_below_the_bare_entries() -> None:
    entries = _entries(0)
    with pytest.raises(ValueError, match='too small'):
        cap_entries(entries, 10)


def test_files_are_written(tmp_path: Path) -> None:
    entries = _entries(1)
    size = FORMAT.write_predictions(str(tmp_path / 'preds.json'), entries)
    assert (tmp_path / 'preds.json').stat().st_size == size
    result = FORMAT.write_submission(str(tmp_path / 'sub.json'), entries,
                                     size // 2)
    assert (tmp_path / 'sub.json').stat().st_size == result.size_bytes < size // 2


def test_metric_writes_the_2021_format_when_asked(tmp_path: Path) -> None:
    import torch
    from mmengine.structures import InstanceData

    from parkdet_challenge.classes import coco_categories
    from parkdet_challenge.formats.inattention2021 import CLASSES as CLASSES_2021
    from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric

    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps({
        'images': [{'id': 1, 'file_name': 'test/images/a1.png', 'width': 64,
                    'height': 48},
                   {'id': 2, 'file_name': 'test/images/b2.png', 'width': 64,
                    'height': 48}],
        'annotations': [], 'categories': coco_categories(CLASSES_2021)}))
    metric = ChallengeSubmissionMetric(ann_file=str(ann), out_dir=str(tmp_path / 'out'),
                                       data_format='inattention2021')
    metric.dataset_meta = dict(classes=CLASSES_2021)
    pred = InstanceData(bboxes=torch.tensor([[1.0, 2.0, 10.04, 20.06],
                                             [3.0, 4.0, 5.0, 6.0]]),
                        scores=torch.tensor([0.5, 0.81234]),
                        labels=torch.tensor([4, 6]))
    empty = InstanceData(bboxes=torch.zeros((0, 4)), scores=torch.zeros(0),
                         labels=torch.zeros(0, dtype=torch.long))
    metric.process({}, [dict(img_id=1, pred_instances=pred),
                        dict(img_id=2, pred_instances=empty)])
    assert metric.compute_metrics(metric.results) == {}
    written = json.loads((tmp_path / 'out/submission.json').read_text())
    assert written == {'annotations': [
        {'file_name': 'a1.jpg', 'objects': [
            {'class': 'cigar', 'position': [3.0, 4.0, 5.0, 6.0],
             'confidence_score': 0.8123},
            {'class': 'face', 'position': [1.0, 2.0, 10.0, 20.1],
             'confidence_score': 0.5}]},
        {'file_name': 'b2.jpg', 'objects': {}}]}
    assert (tmp_path / 'out/preds.json').read_text() == (
        tmp_path / 'out/submission.json').read_text()
    with pytest.raises(ValueError, match='data_format'):
        ChallengeSubmissionMetric(ann_file=str(ann), data_format='2020')
