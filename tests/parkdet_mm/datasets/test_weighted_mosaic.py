"""Weighted mosaic: with image weights every tile of a mosaic is drawn by them."""
import json
import pickle

import numpy as np
import pytest
from conftest import CLASSES, write_tiny_config
from PIL import Image

from parkdet_mm.datasets import (
    EpochPartSampler,
    MosaicIndex,
    class_count_matrix,
    expected_class_share,
    image_weights,
)
from parkdet_mm.datasets import epoch_part_sampler as sampler_module

NUM_COMMON, NUM_RARE = 100, 20  # images of class 0 and of class 1, one box each


@pytest.fixture(scope='module')
def two_class_coco(tmp_path_factory):
    """120 grey 32x32 images, each one large box: 100 of class 0, 20 of class 1."""
    root = tmp_path_factory.mktemp('two_class')
    (root / 'images').mkdir()
    (root / 'annotations').mkdir()
    images, annotations = [], []
    for i in range(NUM_COMMON + NUM_RARE):
        label = 0 if i < NUM_COMMON else 1
        file_name = f'images/{i:03d}.png'
        Image.new('RGB', (32, 32), (90 + 60 * label, 110, 110)).save(
            root / file_name)
        images.append(dict(id=i + 1, file_name=file_name, width=32, height=32))
        annotations.append(dict(id=i + 1, image_id=i + 1, category_id=label + 1,
                                bbox=[2, 2, 28, 28], area=28 * 28, iscrowd=0))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    for split in ('train', 'val'):
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(
            dict(images=images, annotations=annotations,
                 categories=categories)))
    # no test images: a training set holding test images is refused
    (root / 'annotations' / 'test.json').write_text(json.dumps(
        dict(images=[], annotations=[], categories=categories)))
    return root


def _train_loader(config_path, data_root):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import parkdet_mm  # noqa: F401
    from parkdet_mm.config import load_config
    write_tiny_config(config_path, data_root)
    cfg = load_config(str(config_path))
    loader_cfg = cfg.train_dataloader
    # several workers that live across epochs: the partners must reach them
    loader_cfg.update(batch_size=8, num_workers=2, persistent_workers=True)
    init_default_scope('mmyolo')
    return Runner.build_dataloader(loader_cfg, seed=0)


def _rare_share(loader, epoch):
    """Share of class 1 among the boxes the training pipeline puts out."""
    loader.sampler.set_epoch(epoch)
    labels = np.concatenate([
        batch['data_samples']['bboxes_labels'][:, 1].numpy() for batch in loader
    ])
    return float((labels == 1).mean()), len(labels)


def test_all_mosaic_tiles_follow_the_image_weights(two_class_coco, tmp_path):
    loader = _train_loader(tmp_path / 'tiny.py', two_class_coco)
    sampler = loader.sampler
    assert isinstance(sampler, EpochPartSampler) and sampler.total == 120
    counts = class_count_matrix(loader.dataset, len(CLASSES))
    weights = image_weights(counts)
    weighted = expected_class_share(counts, weights)[1]
    natural = expected_class_share(counts)[1]
    first_tile_only = weighted / 4 + natural * 3 / 4
    assert weighted == pytest.approx(0.5) and first_tile_only == pytest.approx(0.25)

    sampler.set_weights(weights)
    shares = [_rare_share(loader, epoch) for epoch in range(3)]
    share = sum(s * n for s, n in shares) / sum(n for _, n in shares)
    boxes = sum(n for _, n in shares)
    assert boxes > 600
    # binomial sd ~0.02 at 600+ boxes: 0.5 +- 0.07, far from the 0.25 of
    # weighting only the first tile
    assert abs(share - weighted) < 0.07, (share, shares)

    # new weights reach the persistent workers: only class 0 can be drawn now,
    # for every tile
    only_common = weights * (counts[:, 0] > 0)
    sampler.set_weights(only_common)
    assert _rare_share(loader, 3)[0] == 0.0

    # weights off: first tiles walk the data, partners are uniform
    sampler.set_weights(None)
    share, boxes = _rare_share(loader, 4)
    assert abs(share - natural) < 0.08, share


def _sampler(monkeypatch, rank=0, world_size=1, num_images=50, parts=2):
    monkeypatch.setattr(sampler_module, 'get_dist_info',
                        lambda: (rank, world_size))
    return EpochPartSampler(list(range(num_images)), parts=parts, seed=3)


def test_partners_are_drawn_by_weight_per_seed_and_epoch(monkeypatch):
    weights = np.zeros(50)
    weights[:5] = 1.0
    weights[5] = 3.0
    sampler = _sampler(monkeypatch, num_images=50, parts=1)
    assert all(type(i) is int for i in sampler)  # unweighted: plain ints
    sampler.set_weights(weights)
    drawn = list(sampler)
    assert all(isinstance(i, MosaicIndex) and len(i.partners) == 3
               for i in drawn)
    assert list(sampler) == drawn and \
        [i.partners for i in sampler] == [i.partners for i in drawn]
    partners = np.concatenate([sampler.epoch_partners(e) for e in range(400)])
    assert set(np.unique(partners)) <= set(range(6))
    share = (partners == 5).mean()
    assert share == pytest.approx(3 / 8, abs=0.01)
    sampler.set_epoch(1)
    assert [i.partners for i in sampler] != [i.partners for i in drawn]
    # a worker receives the partners through pickle
    assert pickle.loads(pickle.dumps(drawn[0])).partners == drawn[0].partners
    assert int(pickle.loads(pickle.dumps(drawn[0]))) == int(drawn[0])
    assert all(i.mixup_partners == () for i in drawn)  # no MixUp: none drawn

    # MixUp's second mosaic: three more partners by the same weights, from their
    # own stream (the first mosaic's are unchanged)
    with_mixup = _sampler(monkeypatch, num_images=50, parts=1)
    with_mixup.mixup_partners = 3
    with_mixup.set_weights(weights)
    mixed = list(with_mixup)
    assert [i.partners for i in mixed] == [i.partners for i in drawn]
    assert all(len(i.mixup_partners) == 3 for i in mixed)
    assert [i.mixup_partners for i in mixed] != [i.partners for i in mixed]
    assert pickle.loads(pickle.dumps(mixed[0])).mixup_partners == \
        mixed[0].mixup_partners
    partners = np.concatenate(
        [with_mixup.epoch_partners(e, mixup=True) for e in range(400)])
    assert set(np.unique(partners)) <= set(range(6))
    assert (partners == 5).mean() == pytest.approx(3 / 8, abs=0.01)


def test_ranks_share_one_draw_of_partners(monkeypatch):
    weights = np.arange(1.0, 51.0)
    per_rank = []
    for rank in range(3):
        sampler = _sampler(monkeypatch, rank, 3)
        sampler.set_weights(weights)
        per_rank.append(list(sampler))
    whole = _sampler(monkeypatch)
    whole.set_weights(weights)
    indices = whole.epoch_indices(0).tolist()
    partners = [tuple(row) for row in whole.epoch_partners(0).tolist()]
    merged = [i for row in zip(*per_rank) for i in row]  # 27 positions for 25
    assert [int(i) for i in merged] == indices + indices[:2]
    assert [i.partners for i in merged] == partners + partners[:2]
