"""Image weights against a plain loop, and the count matrix from annotations only."""
import copy

import numpy as np
import pytest
from mmengine.dataset import BaseDataset, ConcatDataset, RepeatDataset

from parkdet_mm.datasets import class_count_matrix, expected_class_share, image_weights


def loop_image_weights(counts, maps):
    """docs/reference.md section 7 written out one number at a time."""
    num_images, num_classes = len(counts), len(counts[0])
    boxes = [sum(counts[i][c] for i in range(num_images)) or 1
             for c in range(num_classes)]
    inverse_sum = sum(1 / n for n in boxes)
    class_weights = [(1 / n) / inverse_sum * num_classes for n in boxes]
    per_box = [class_weights[c] * (1 - maps[c])**2 / num_classes
               for c in range(num_classes)]
    return [sum(per_box[c] * counts[i][c] for c in range(num_classes))
            for i in range(num_images)]


@pytest.fixture
def counts():
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.7, size=(60, 14))
    counts[:, 4] = 0  # a class without boxes counts as one box
    counts[:5] = 0  # background images
    return counts


def test_matches_the_loop_without_maps(counts):
    expected = loop_image_weights(counts.tolist(), [0.0] * 14)
    np.testing.assert_allclose(image_weights(counts), expected, rtol=1e-12)
    assert (image_weights(counts)[:5] == 0).all()


def test_matches_the_loop_with_maps(counts):
    maps = np.random.default_rng(1).uniform(0, 1, 14)
    maps[2] = 1.0  # a perfectly detected class no longer pulls its images
    expected = loop_image_weights(counts.tolist(), maps.tolist())
    np.testing.assert_allclose(image_weights(counts, maps), expected,
                               rtol=1e-12)
    only_class_2 = np.zeros((1, 14), dtype=int)
    only_class_2[0, 2] = 3
    assert image_weights(np.vstack([counts, only_class_2]), maps)[-1] == 0


def test_rare_classes_weigh_more():
    counts = np.array([[10, 0], [0, 1], [5, 0]])
    # n = (15, 1): cw = (1/15, 1) / (16/15) = (1/16, 15/16) per box.
    np.testing.assert_allclose(image_weights(counts), [10 / 16, 15 / 16, 5 / 16])


@pytest.mark.parametrize('counts,maps,message', [
    (np.ones(3), None, 'matrix'),
    (-np.ones((2, 3)), None, '>= 0'),
    (np.ones((2, 3)), np.zeros(2), 'one value per class'),
    (np.ones((2, 3)), [0.1, 1.5, 0.0], r'\[0, 1\]'),
    (np.ones((2, 3)), [0.1, np.nan, 0.0], r'\[0, 1\]'),
])
def test_invalid_input(counts, maps, message):
    with pytest.raises(ValueError, match=message):
        image_weights(counts, maps)


def test_expected_class_share(counts):
    uniform = expected_class_share(counts)
    np.testing.assert_allclose(uniform, counts.sum(0) / counts.sum())
    weights = image_weights(counts)
    shares = np.zeros(14)
    for image, weight in zip(counts, weights):
        shares += weight / weights.sum() * image
    np.testing.assert_allclose(expected_class_share(counts, weights),
                               shares / shares.sum())
    # Balancing moves the share towards the rare classes.
    boxes = counts.sum(0)
    rarest = np.where(boxes > 0, boxes, np.inf).argmin()
    assert expected_class_share(counts, weights)[rarest] > uniform[rarest]
    assert not expected_class_share(np.zeros((2, 3))).any()


def refuse_to_load(results):
    raise AssertionError('the count matrix must not run the pipeline')


class BoxesDataset(BaseDataset):
    """An mmengine dataset whose data list is given, with a pipeline that fails."""
    METAINFO = dict(classes=('car', 'person', 'cart'))

    def __init__(self, data_list, **kwargs):
        self._given = data_list
        super().__init__(pipeline=[refuse_to_load], **kwargs)

    def load_data_list(self):
        return copy.deepcopy(self._given)  # serializing clears the list it got


def box(label, ignore=0):
    return dict(bbox=[0, 0, 1, 1], bbox_label=label, ignore_flag=ignore)


DATA_LIST = [
    dict(img_path='a.png', instances=[box(0), box(0), box(2)]),
    dict(img_path='b.png', instances=[]),
    dict(img_path='c.png', instances=[box(1), box(1, ignore=1)]),
]
EXPECTED = np.array([[2, 0, 1], [0, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize('serialize_data', [True, False])
def test_count_matrix(serialize_data):
    dataset = BoxesDataset(DATA_LIST, serialize_data=serialize_data)
    counts = class_count_matrix(dataset)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, EXPECTED)


def test_count_matrix_of_wrapped_datasets():
    concat = ConcatDataset([BoxesDataset(DATA_LIST), BoxesDataset(DATA_LIST[:1])])
    np.testing.assert_array_equal(class_count_matrix(concat),
                                  np.vstack([EXPECTED, EXPECTED[:1]]))
    repeat = RepeatDataset(BoxesDataset(DATA_LIST), times=2)
    np.testing.assert_array_equal(class_count_matrix(repeat),
                                  np.vstack([EXPECTED, EXPECTED]))


def test_count_matrix_refuses_unknown_labels():
    dataset = BoxesDataset([dict(img_path='a.png', instances=[box(3)])])
    with pytest.raises(ValueError, match='bbox_label outside 0..2'):
        class_count_matrix(dataset)
