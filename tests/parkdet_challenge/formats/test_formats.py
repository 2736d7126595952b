"""Every built-in competition format: found by name and by its file's shape, and the
result files of the two challenges byte for byte what the code before the formats
wrote. EXPECTED was printed by commit 27198b2's ChallengeSubmissionMetric
(submission_format '2022' and '2021', max_bytes 400) on the detections of
``_detections`` (a script run once in a checkout of that commit)."""
import json

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from parkdet_challenge.classes import CLASS_NAMES_KO, coco_categories
from parkdet_challenge.errors import InputError
from parkdet_challenge.formats import FORMATS, format_of_file, get_format

EXPECTED = {
    'parking2022/preds.json': (
        '[{"image_id": 7, "category_id": 14, "bbox": [48.3, 48.5, 2.4, 30.0], "'
        'score": 0.3924, "segmentation": []}, {"image_id": 7, "category_id": 8,'
        ' "bbox": [30.9, 17.1, 19.9, 7.8], "score": 0.493, "segmentation": []},'
        ' {"image_id": 7, "category_id": 13, "bbox": [3.2, 23.0, 13.6, 29.3], "'
        'score": 0.6767, "segmentation": []}, {"image_id": 7, "category_id": 4,'
        ' "bbox": [24.5, 2.7, 27.0, 25.5], "score": 0.0608, "segmentation": []}'
        ', {"image_id": 11, "category_id": 3, "bbox": [52.8, 3.9, 26.3, 1.5], "'
        'score": 0.2033, "segmentation": []}, {"image_id": 11, "category_id": 5'
        ', "bbox": [40.8, 52.2, 21.5, 1.0], "score": 0.3249, "segmentation": []'
        '}, {"image_id": 11, "category_id": 2, "bbox": [13.6, 53.7, 15.6, 13.7]'
        ', "score": 0.8062, "segmentation": []}]'),
    'parking2022/submission.json': (
        '[{"image_id": 11, "category_id": 2, "bbox": [13.6, 53.7, 15.6, 13.7], '
        '"score": 0.8062, "segmentation": []}, {"image_id": 7, "category_id": 1'
        '3, "bbox": [3.2, 23.0, 13.6, 29.3], "score": 0.6767, "segmentation": ['
        ']}, {"image_id": 7, "category_id": 8, "bbox": [30.9, 17.1, 19.9, 7.8],'
        ' "score": 0.493, "segmentation": []}]'),
    'inattention2021/preds.json': (
        '{"annotations": [{"file_name": "im7.jpg", "objects": [{"class": "c6", '
        '"position": [3.2, 23.0, 16.8, 52.3], "confidence_score": 0.6767}, {"cl'
        'ass": "c3", "position": [30.9, 17.1, 50.8, 24.9], "confidence_score": '
        '0.493}, {"class": "c6", "position": [48.3, 48.5, 50.7, 78.5], "confide'
        'nce_score": 0.3924}, {"class": "c1", "position": [24.5, 2.7, 51.5, 28.'
        '2], "confidence_score": 0.0608}]}, {"file_name": "im3.jpg", "objects":'
        ' {}}, {"file_name": "im11.jpg", "objects": [{"class": "c0", "position"'
        ': [13.6, 53.7, 29.2, 67.4], "confidence_score": 0.8062}, {"class": "c2'
        '", "position": [40.8, 52.2, 62.3, 53.2], "confidence_score": 0.3249}, '
        '{"class": "c1", "position": [52.8, 3.9, 79.1, 5.4], "confidence_score"'
        ': 0.2033}]}]}'),
    'inattention2021/submission.json': (
        '{"annotations": [{"file_name": "im7.jpg", "objects": [{"class": "c6", '
        '"position": [3.2, 23.0, 16.8, 52.3], "confidence_score": 0.6767}, {"cl'
        'ass": "c3", "position": [30.9, 17.1, 50.8, 24.9], "confidence_score": '
        '0.493}]}, {"file_name": "im3.jpg", "objects": {}}, {"file_name": "im11'
        '.jpg", "objects": [{"class": "c0", "position": [13.6, 53.7, 29.2, 67.4'
        '], "confidence_score": 0.8062}]}]}'),
}


def _detections(num_classes):
    """Three images (ids 7, 3, 11; the second without detections), seeded."""
    rng = np.random.default_rng(5)
    samples = []
    for image_id, n in ((7, 4), (3, 0), (11, 3)):
        xy, wh = rng.uniform(0, 60, (n, 2)), rng.uniform(1, 30, (n, 2))
        samples.append(dict(img_id=image_id, pred_instances=InstanceData(
            bboxes=torch.tensor(np.hstack([xy, xy + wh]), dtype=torch.float32),
            scores=torch.tensor(rng.uniform(0, 1, n), dtype=torch.float32),
            labels=torch.tensor(rng.integers(0, num_classes, n)))))
    return samples


def _written(tmp_path, data_format, categories, max_bytes=400):
    from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric
    ann = tmp_path / 'test.json'
    ann.write_text(json.dumps({
        'images': [{'id': i, 'file_name': f'test/images/im{i}.png', 'width': 100,
                    'height': 80} for i in (7, 3, 11)],
        'annotations': [], 'categories': categories}))
    metric = ChallengeSubmissionMetric(ann_file=str(ann), out_dir=str(tmp_path / 'out'),
                                       max_bytes=max_bytes, data_format=data_format)
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in categories))
    metric.process({}, _detections(len(categories)))
    assert metric.compute_metrics(metric.results) == {}
    return tmp_path / 'out'


@pytest.mark.parametrize('data_format, num_classes', [('parking2022', 14),
                                                      ('inattention2021', 7)])
def test_the_challenges_files_are_unchanged(tmp_path, data_format, num_classes):
    names = tuple(f'c{k}' for k in range(num_classes))
    out = _written(tmp_path, data_format, coco_categories(names))
    for name in ('preds.json', 'submission.json'):
        assert (out / name).read_text() == EXPECTED[f'{data_format}/{name}']


def test_coco_results_keep_the_data_sets_category_ids(tmp_path):
    categories = [{'id': 3, 'name': 'kite'}, {'id': 17, 'name': 'zebra'},
                  {'id': 90, 'name': 'umbrella'}]
    out = _written(tmp_path, 'coco', categories, max_bytes=None)
    results = json.loads((out / 'submission.json').read_text())
    assert results == json.loads((out / 'preds.json').read_text())  # uncapped
    expected = []
    for sample in _detections(3):
        pred = sample['pred_instances']
        for box, score, label in zip(pred.bboxes.tolist(), pred.scores.tolist(),
                                     pred.labels.tolist()):
            x1, y1, x2, y2 = box
            expected.append({'image_id': sample['img_id'],
                             'category_id': [3, 17, 90][label],
                             'bbox': [round(x1, 1), round(y1, 1), round(x2 - x1, 1),
                                      round(y2 - y1, 1)],
                             'score': round(score, 4), 'segmentation': []})
    assert results == expected


def test_formats_are_found_by_name_and_by_their_files_shape():
    assert {'parking2022', 'inattention2021', 'coco'} <= set(FORMATS)
    korean = [{'id': i + 1, 'name': ko} for i, (_, ko) in enumerate(CLASS_NAMES_KO)]
    for data, name in (
            ({'images': [], 'annotations': []}, 'parking2022'),
            ({'images': [], 'categories': korean}, 'parking2022'),
            ({'images': [], 'categories': coco_categories()}, 'parking2022'),
            ({'annotations': [{'file_name': 'a.png', 'objects': []}]},
             'inattention2021'),
            ({'images': [], 'categories': [{'id': 5, 'name': 'kite'}]}, 'coco')):
        assert format_of_file(data, 'f').name == name
    assert get_format('coco') is FORMATS['coco']
    with pytest.raises(InputError, match="format 'voc': not one of"):
        get_format('voc')
    with pytest.raises(InputError, match='none of the known layouts'):
        format_of_file({'something': 1}, 'f')
