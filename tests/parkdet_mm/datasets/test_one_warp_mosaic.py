"""One interpolation per mosaic tile (``mosaic_one_warp``) against the two steps.

WeightedMosaicOneWarp composes Mosaic's resize and the random affine into one warp
per tile. With the same random draws it must give exactly the boxes of the two steps
(Mosaic, then YOLOv5RandomAffineWarp: YOLOv5's load_mosaic and random_perspective),
and images that differ only by interpolation rounding; image weights' partner tiles
and the image cache must work through it.
"""
import cv2
import numpy as np
import pytest
import torch
from conftest import draw_tiny_coco, write_tiny_config
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401  (registers the transforms)
from mmyolo.registry import DATASETS
from parkdet_challenge.errors import InputError
from parkdet_mm.config import load_config
from parkdet_mm.datasets import MosaicIndex
from parkdet_mm.engine.hooks.image_cache_hook import attach_image_cache

# The recipe's pipeline up to the affine (HSV, flip and packing are the same
# transforms after either), at a size where the tiles are resized down, as the
# challenge's 1920x1080 frames are at 1280.
SIZE = (128, 128)
IDENTITY_AFFINE = dict(affine_scale=0.0, max_translate_ratio=0.0)


@pytest.fixture(scope='module')
def frames(tmp_path_factory):
    """16 training images of 16:9 frames, 320x180, with boxes, on backgrounds of
    smooth gradients far from the padding's grey (114)."""
    root = tmp_path_factory.mktemp('frames')
    draw_tiny_coco(root, 'train', 16, 1, seed=5, size=(320, 180))
    y, x = np.mgrid[0:180, 0:320]
    for i, path in enumerate(sorted((root / 'images').glob('*.png'))):
        img = cv2.imread(str(path))
        gradient = 150 + (x * (0.1 + 0.02 * i) + y * 0.3) % 100
        background = (img == 110).all(-1)
        img[background] = np.stack([gradient, gradient[::-1], 400 - gradient],
                                   -1)[background].astype(np.uint8)
        cv2.imwrite(str(path), img)
    return root


def mosaic_dataset(tmp_path, root, one_warp: bool, **primaries):
    """The tiny config's training set, its pipeline cut after the affine."""
    config = write_tiny_config(tmp_path / 'tiny.py', root)
    cfg = load_config(str(config), dict(img_scale=SIZE, mosaic_one_warp=one_warp,
                                        **primaries))
    init_default_scope('mmyolo')
    dataset_cfg = cfg.train_dataloader.dataset
    steps = 3 if one_warp else 4  # load, annotations, mosaic (+ affine)
    assert [t['type'] for t in dataset_cfg.pipeline[:steps]][2:] == (
        ['WeightedMosaicOneWarp'] if one_warp else
        ['WeightedMosaic', 'YOLOv5RandomAffineWarp'])
    return DATASETS.build(dict(dataset_cfg, pipeline=dataset_cfg.pipeline[:steps]))


def outputs(dataset, indexes):
    """(image, boxes, labels) of each index, numpy's generator seeded by its
    place in ``indexes``."""
    results = []
    for seed, index in enumerate(indexes):
        np.random.seed(seed)
        sample = dataset[index]
        results.append((sample['img'], sample['gt_bboxes'].tensor,
                        sample['gt_bboxes_labels']))
    return results


def compare(one_warp, two_steps):
    """Boxes and labels equal sample for sample; the absolute pixel differences
    of all samples."""
    diffs = []
    for (img_1, boxes_1, labels_1), (img_2, boxes_2, labels_2) in zip(
            one_warp, two_steps):
        assert img_1.shape == img_2.shape == SIZE[::-1] + (3,)
        assert img_1.dtype == img_2.dtype == np.uint8
        assert torch.equal(boxes_1, boxes_2)
        np.testing.assert_array_equal(labels_1, labels_2)
        diffs.append(np.abs(img_1.astype(int) - img_2.astype(int)))
    return np.stack(diffs)


def box_count(samples) -> int:
    return sum(len(boxes) for _, boxes, _ in samples)


def test_identity_affine_matches_two_steps(tmp_path, frames):
    """With the affine drawn to the identity (no scale, no shift) the two steps'
    affine copies the canvas; what is left is one resize against one warp."""
    one = mosaic_dataset(tmp_path, frames, True, **IDENTITY_AFFINE)
    two = mosaic_dataset(tmp_path, frames, False, **IDENTITY_AFFINE)
    two_steps = outputs(two, range(12))
    diff = compare(outputs(one, range(12)), two_steps)
    assert box_count(two_steps) > 24
    assert diff.mean() < 0.05
    assert np.percentile(diff, 99.9) <= 1 and diff.max() <= 3


def assert_same_picture(one_warp, two_steps) -> None:
    """Per image: brightness and contrast per channel as the two steps', and no
    padding where the two steps show the image (a gap between tiles) beyond the
    one-pixel blend of two steps along the padding's edge."""
    for (img_1, _, _), (img_2, _, _) in zip(one_warp, two_steps):
        assert np.abs(img_1.mean((0, 1)) - img_2.mean((0, 1))).max() < 1.0
        contrast = img_2.std((0, 1))
        assert (np.abs(img_1.std((0, 1)) - contrast) / contrast).max() < 0.05
        pad_1, pad_2 = ((img == 114).all(-1) for img in (img_1, img_2))
        near_pad_2 = cv2.dilate(pad_2.astype(np.uint8), np.ones((3, 3), np.uint8),
                                borderType=cv2.BORDER_CONSTANT, borderValue=1)
        assert not (pad_1 & (near_pad_2 == 0)).any()
        assert abs(pad_1.mean() - pad_2.mean()) < 0.03


def test_recipe_affine_keeps_boxes_and_image_statistics(tmp_path, frames):
    """The recipe's affine (scale 0.5-1.5, shift 0.1): the same boxes; the images
    differ by one interpolation against two, not in what they show."""
    indexes = list(range(16)) * 2
    one, two = (outputs(mosaic_dataset(tmp_path, frames, flag), indexes)
                for flag in (True, False))
    diff = compare(one, two)
    assert box_count(two) > 3 * len(two)
    assert diff.mean() < 1.0 and (diff.max(-1) > 1).mean() < 0.1
    assert_same_picture(one, two)


def test_rotation_and_shear_leave_no_gaps_between_tiles(tmp_path, frames):
    """With rotation and shear every tile covers a parallelogram; the tiles must
    meet without gaps (padding) or overlaps between them."""
    rotated = dict(max_rotate_degree=20.0, max_shear_degree=5.0)
    one, two = (outputs(mosaic_dataset(tmp_path, frames, flag, **rotated),
                        range(12)) for flag in (True, False))
    diff = compare(one, two)
    assert box_count(two) > 24
    assert diff.mean() < 1.0 and (diff.max(-1) > 1).mean() < 0.1
    assert_same_picture(one, two)


def test_weighted_partners_fill_the_tiles(tmp_path, frames):
    """The sampler's partners (image weights) are the other three tiles, as with
    the two steps; other partners give another mosaic."""
    one = mosaic_dataset(tmp_path, frames, True)
    two = mosaic_dataset(tmp_path, frames, False)
    index = MosaicIndex(3, partners=(7, 9, 12))
    compare(outputs(one, [index]), outputs(two, [index]))
    other = outputs(one, [MosaicIndex(3, partners=(1, 2, 4))])
    assert not torch.equal(other[0][1], outputs(one, [index])[0][1])


@pytest.mark.parametrize('mode', ['ram', 'disk'])
def test_image_cache_feeds_the_one_warp(tmp_path, frames, mode):
    """Cached tiles come resized as Mosaic resizes them: the one warp then takes
    the same points as the two steps' affine, so the output is the two steps'
    but at the tiles' seams."""
    one = mosaic_dataset(tmp_path, frames, True)
    cache = attach_image_cache(one, mode, (128, 128))  # Mosaic's img_scale
    assert len(cache) == 16
    first = cache.get(one.get_data_info(0)['img_path'])
    assert first.img.shape == (72, 128, 3)  # 320x180 at Mosaic's 128
    two = outputs(mosaic_dataset(tmp_path, frames, False), range(12))
    diff = compare(outputs(one, range(12)), two)
    assert box_count(two) > 24
    # the seams: four lines of 128 pixels are 3% of a 128x128 image
    assert (diff.max(-1) > 1).mean() < 0.04


def test_primary_is_checked(tmp_path, frames):
    config = write_tiny_config(tmp_path / 'tiny.py', frames)
    with pytest.raises(InputError, match='mosaic_one_warp'):
        load_config(str(config), dict(mosaic_one_warp='yes'))
    defaults = load_config(str(config))
    assert not defaults.mosaic_one_warp
    assert [t['type'] for t in defaults.train_dataloader.dataset.pipeline][2:4] == [
        'WeightedMosaic', 'YOLOv5RandomAffineWarp']
