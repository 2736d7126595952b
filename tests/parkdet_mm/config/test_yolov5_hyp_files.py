"""Every hyp file YOLOv5 shipped from v5.0 to v7.0 trains; MixUp, flipud and hyp
``anchors`` as YOLOv5 does them (against transcriptions of its code)."""
import random

import numpy as np
import pytest
import yaml
from conftest import run_tool, write_tiny_config
from helpers.quick_training import quick_training
from helpers.recipe_hyps import read_hyps
from helpers.train_flags import config_from_train_flags
from yolov5_hyp_files import YOLOV5_HYP_FILES, distinct_hyp_files

DISTINCT = distinct_hyp_files()
# the demo model at 64 px: 4 levels, strides 8 to 64
STRIDES = [8, 16, 32, 64]


def write_hyp(path, values: dict) -> str:
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return str(path)


def tiny_hyp_config(tmp_path, data_root, monkeypatch, values: dict, *flags):
    """The tiny config (1 epoch) as ``tools/train.py CONFIG --hyp FILE FLAGS``
    builds it."""
    config = write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=1)
    return config_from_train_flags(monkeypatch, [
        str(config), '--hyp', write_hyp(tmp_path / 'hyp.yaml', values),
        '--work-dir', str(tmp_path / 'work'), *flags])




# ------------------------------------------------------------ YOLOv5's code
# Transcribed from YOLOv5 v7.0: utils/augmentations.py mixup(), and the mosaic
# branch of utils/dataloaders.py LoadImagesAndLabels.__getitem__ that calls it
# (load_mosaic ends with random_perspective, i.e. each mosaic has its affine).
def yolov5_mixup(im, labels, im2, labels2, r):
    """``mixup()`` with the ratio given (YOLOv5 draws r = np.random.beta(32.0,
    32.0))."""
    im = (im * r + im2 * (1 - r)).astype(np.uint8)
    labels = np.concatenate((labels, labels2), 0)
    return im, labels


def yolov5_mosaic_item(load_mosaic, index, n, hyp, r):
    """``__getitem__``'s mosaic path up to the colour and flip steps."""
    img, labels = load_mosaic(index)
    if random.random() < hyp['mixup']:
        img, labels = yolov5_mixup(img, labels,
                                   *load_mosaic(random.randint(0, n - 1)), r)
    return img, labels


def yolov5_flipud(img, labels):
    """``__getitem__``'s up-down flip of an image and its (cls, cx, cy, w, h)
    labels, normalised."""
    img = np.flipud(img)
    labels[:, 2] = 1 - labels[:, 2]
    return img, labels


def yolo_rows(results) -> np.ndarray:
    """A results dict's boxes as YOLOv5's pixel labels: (cls, x1, y1, x2, y2)."""
    return np.column_stack([results['gt_bboxes_labels'],
                            results['gt_bboxes'].numpy()]).astype(np.float64)


# ------------------------------------------------------------ every file
@pytest.mark.parametrize('key', list(YOLOV5_HYP_FILES),
                         ids=[f'{r}:{p}' for r, p in YOLOV5_HYP_FILES])
def test_every_hyp_file_reaches_the_built_config(key, tiny_coco, tmp_path,
                                                monkeypatch):
    values = YOLOV5_HYP_FILES[key]
    cfg = tiny_hyp_config(tmp_path, tiny_coco, monkeypatch, values)
    built = read_hyps(cfg)
    for name, value in values.items():
        if name == 'copy_paste':  # needs segments: trained without, as YOLOv5
            assert built[name] == 0.0
        elif name == 'anchors':  # YOLOv5's Model rounds it; AutoAnchor's test below
            assert cfg.anchors_per_level == round(value)
            assert cfg.model.bbox_head.head_module.num_base_priors == round(value)
        elif name != 'iou_t':  # read nowhere by YOLOv5 v5.0 to v7.0
            assert built[name] == pytest.approx(value), name
    if 'anchors' not in values:
        assert cfg.anchors_per_level is None
    # v6.0+ leaves HSV out when every gain is 0, as hyp.no-augmentation does
    hsv_steps = [t for t in cfg.train_dataloader.dataset.pipeline
                 if t['type'] == 'YOLOv5HSVRandomAug']
    assert len(hsv_steps) == int(bool(values['hsv_h'] or values['hsv_s']
                                      or values['hsv_v']))


@pytest.mark.parametrize('name', list(DISTINCT))
def test_every_hyp_file_trains_an_epoch(name, tiny_coco, tmp_path, monkeypatch):
    import torch

    from parkdet_mm.engine import DerivingRunner
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    values = DISTINCT[name]
    cfg = quick_training(
        tiny_hyp_config(tmp_path, tiny_coco, monkeypatch, values), monkeypatch)
    runner = DerivingRunner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2  # 8 images in batches of 4
    assert torch.isfinite(torch.tensor(
        runner.message_hub.get_scalar('train/loss').current()))
    anchors = load_local_checkpoint(str(tmp_path / 'work' / 'epoch_1.pth'))[
        'meta']['anchors']
    assert np.shape(anchors) == (4, round(values.get('anchors') or 3), 2)


def test_the_train_tool_takes_a_hyp_file_with_copy_paste(tiny_coco, tmp_path):
    values = YOLOV5_HYP_FILES[('v7.0', 'data/hyps/hyp.scratch-high.yaml')]
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    proc = run_tool(['tools/train.py', str(config), '--hyp',
                     write_hyp(tmp_path / 'hyp.scratch-high.yaml', values),
                     '--work-dir', str(tmp_path / 'work')])
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines()
                if 'copy_paste' in line]
    assert warnings == [
        f'--hyp {tmp_path}/hyp.scratch-high.yaml: warning: copy_paste 0.1 needs '
        'segment labels, which box labels do not have: training without it, as '
        'YOLOv5 does without segments'
    ]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


# ------------------------------------------------------------ MixUp
def test_mixup_batches_are_yolov5_blends(tiny_coco, tmp_path, monkeypatch):
    """Through the real training loader: every image of the batch is YOLOv5's
    mixup() of the two mosaics the pipeline made, with the ratio it drew."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from parkdet_mm.datasets.transforms import WeightedMixUp
    values = dict(YOLOV5_HYP_FILES[('v7.0', 'data/hyps/hyp.scratch-high.yaml')],
                  mixup=1.0, hsv_h=0, hsv_s=0, hsv_v=0, fliplr=0.0)
    # no HSV (all gains 0) and no flip: the packed image is MixUp's output
    cfg = tiny_hyp_config(tmp_path, tiny_coco, monkeypatch, values)
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert types == ['LoadImageFromFile', 'LoadAnnotations', 'WeightedMosaic',
                     'YOLOv5RandomAffineWarp', 'WeightedMixUp', 'mmdet.RandomFlip',
                     'mmdet.PackDetInputs']
    records, ratios = [], []
    mix = WeightedMixUp.mix_img_transform

    def recording(self, results):
        second = results['mix_results'][0]
        record = dict(first=(results['img'].copy(), yolo_rows(results)),
                      second=(second['img'].copy(), yolo_rows(second)))
        out = mix(self, results)
        records.append(dict(record, out=(out['img'].copy(), yolo_rows(out))))
        return out

    beta = np.random.beta

    def recorded_beta(a, b, *args):
        ratios.append((a, b, beta(a, b, *args)))
        return ratios[-1][2]

    monkeypatch.setattr(WeightedMixUp, 'mix_img_transform', recording)
    monkeypatch.setattr(np.random, 'beta', recorded_beta)
    init_default_scope('mmyolo')
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(loader))
    assert len(records) == len(ratios) == 4
    boxes = batch['data_samples']['bboxes_labels'].numpy()
    for k, (record, (a, b, r)) in enumerate(zip(records, ratios)):
        assert (a, b) == (32.0, 32.0)
        mosaics = {0: record['first'], 1: record['second']}
        # index 0 is the sample's own mosaic, 1 the one mixed in
        monkeypatch.setattr(random, 'randint', lambda low, high: 1)
        img, labels = yolov5_mosaic_item(lambda i: mosaics[i], 0, 8,
                                         dict(mixup=1.0), r)
        out_img, out_labels = record['out']
        np.testing.assert_array_equal(out_img, img)
        np.testing.assert_allclose(out_labels, labels, rtol=0, atol=1e-4)
        # a real blend: unlike either mosaic
        assert not np.array_equal(img, record['first'][0])
        assert not np.array_equal(img, record['second'][0])
        # the batch holds it (CHW), boxes of both mosaics
        np.testing.assert_array_equal(batch['inputs'][k].numpy(),
                                      img.transpose(2, 0, 1))
        mine = boxes[boxes[:, 0] == k][:, 1:]
        np.testing.assert_allclose(mine, labels, rtol=0, atol=1e-4)


class _Images:
    """A data set of five 4x4 images, image i all of value 40 (i + 1)."""

    def __init__(self):
        self.asked = []

    def __len__(self):
        return 5

    def get_data_info(self, index):
        from mmdet.structures.bbox import HorizontalBoxes
        self.asked.append(int(index))
        return dict(img=np.full((4, 4, 3), 40 * (index + 1), np.uint8),
                    gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
                    gt_bboxes_labels=np.zeros(0, np.int64),
                    gt_ignore_flags=np.zeros(0, bool))


def test_mixup_draws_as_yolov5():
    """With probability ``mixup`` (YOLOv5's ``random.random() < hyp['mixup']``),
    the second mosaic's image uniform over the data set
    (``random.randint(0, n - 1)``)."""
    from mmdet.structures.bbox import HorizontalBoxes

    from parkdet_mm.datasets.transforms import WeightedMixUp
    np.random.seed(0)
    random.seed(0)
    mixup, images, trials, prob = WeightedMixUp(prob=0.3), _Images(), 4000, 0.3
    mixed = 0
    for _ in range(trials):
        results = dict(img=np.zeros((4, 4, 3), np.uint8),
                       gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
                       gt_bboxes_labels=np.zeros(0, np.int64),
                       gt_ignore_flags=np.zeros(0, bool), dataset=images)
        mixed += bool(mixup.transform(results)['img'].any())
    yolov5 = sum(random.random() < prob for _ in range(trials))
    # binomial sd 0.007: both at 0.3
    assert abs(mixed / trials - prob) < 0.03 and abs(yolov5 / trials - prob) < 0.03
    assert len(images.asked) == mixed
    shares = np.bincount(images.asked, minlength=5) / mixed
    assert len(shares) == 5 and np.abs(shares - 0.2).max() < 0.04


def test_mixups_second_mosaic_takes_the_weighted_partners(tiny_coco, tmp_path,
                                                          monkeypatch):
    """With image weights, the sampler's ``mixup_partners`` are the second
    mosaic's tiles, as the first mosaic's are its ``partners``; its first image
    stays uniform (YOLOv5's randint)."""
    from mmengine.registry import init_default_scope

    from mmyolo.registry import DATASETS
    from parkdet_mm.datasets import MosaicIndex
    from parkdet_mm.datasets.transforms import WeightedMosaic
    values = dict(YOLOV5_HYP_FILES[('v7.0', 'data/hyps/hyp.scratch-med.yaml')],
                  mixup=1.0)
    cfg = tiny_hyp_config(tmp_path, tiny_coco, monkeypatch, values)
    assert cfg.train_dataloader.sampler.mixup_partners == 3
    init_default_scope('mmyolo')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    tiles = []
    get_indexes = WeightedMosaic.get_indexes

    def recording(self, data):
        tiles.append(get_indexes(self, data))
        return tiles[-1]

    monkeypatch.setattr(WeightedMosaic, 'get_indexes', recording)
    dataset[MosaicIndex(2, (5, 6, 7), (1, 3, 4))]
    assert tiles == [[5, 6, 7], [1, 3, 4]]
    tiles.clear()
    dataset[2]  # weights off: both uniform
    assert len(tiles) == 2 and tiles[1] != [1, 3, 4]


# ------------------------------------------------------------ flipud
def test_flipud_is_yolov5s(tiny_coco, tmp_path, monkeypatch):
    from mmdet.structures.bbox import HorizontalBoxes
    from mmengine.registry import init_default_scope

    from mmyolo.registry import TRANSFORMS
    values = dict(YOLOV5_HYP_FILES[('v5.0', 'data/hyp.finetune.yaml')])
    cfg = tiny_hyp_config(tmp_path, tiny_coco, monkeypatch, values)
    pipeline = cfg.train_dataloader.dataset.pipeline
    # YOLOv5's order: HSV, flipud, fliplr
    assert [(t['type'], t.get('direction'), t.get('prob')) for t in pipeline[-4:]] == [
        ('YOLOv5HSVRandomAug', None, None),
        ('mmdet.RandomFlip', 'vertical', 0.00856),
        ('mmdet.RandomFlip', None, 0.5), ('mmdet.PackDetInputs', None, None)]
    init_default_scope('mmyolo')
    flip = TRANSFORMS.build(dict(pipeline[-3], prob=1.0))
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (48, 64, 3), np.uint8)
    xyxy = np.array([[4, 6, 20, 30], [30, 2, 60, 47]], np.float32)
    out = flip.transform(dict(img=img.copy(), img_shape=(48, 64),
                              gt_bboxes=HorizontalBoxes(xyxy.copy())))
    h, w = img.shape[:2]
    cxcywh = np.column_stack([(xyxy[:, 0] + xyxy[:, 2]) / 2 / w,
                              (xyxy[:, 1] + xyxy[:, 3]) / 2 / h,
                              (xyxy[:, 2] - xyxy[:, 0]) / w,
                              (xyxy[:, 3] - xyxy[:, 1]) / h])
    labels = np.column_stack([[0, 1], cxcywh])
    expected_img, expected = yolov5_flipud(img.copy(), labels)
    np.testing.assert_array_equal(out['img'], expected_img)
    got = out['gt_bboxes'].numpy()
    got = np.column_stack([(got[:, 0] + got[:, 2]) / 2 / w,
                           (got[:, 1] + got[:, 3]) / 2 / h,
                           (got[:, 2] - got[:, 0]) / w, (got[:, 3] - got[:, 1]) / h])
    np.testing.assert_allclose(got, expected[:, 1:], atol=1e-6)


# ------------------------------------------------------------ hyp anchors
def test_hyp_anchors_are_evolved_as_yolov5(tiny_coco, tiny_model, tmp_path,
                                           monkeypatch):
    """hyp.Objects365's ``anchors: 3.2``: 3 anchors per level, starting as
    YOLOv5's placeholders whatever the pretrained checkpoint had, evolved by
    AutoAnchor from the training boxes before training; ``anchors: 2``: two."""
    import torch
    from mmengine.registry import init_default_scope

    from mmyolo.registry import DATASETS
    from parkdet_mm.engine import DerivingRunner
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    from parkdet_mm.models.anchor_fit import box_sizes_per_image
    from parkdet_mm.models.autoanchor import check_anchors
    values = YOLOV5_HYP_FILES[('v7.0', 'data/hyps/hyp.Objects365.yaml')]
    assert values['anchors'] == 3.2
    # a pretrained checkpoint that carries its own anchors
    _, checkpoint = tiny_model
    pretrained = torch.load(str(checkpoint), weights_only=True)
    stock = [[[10.0, 13.0], [16.0, 30.0], [33.0, 23.0]]] * 4
    pretrained['meta'] = dict(anchors=stock)
    torch.save(pretrained, str(tmp_path / 'pretrained.pth'))
    placeholders = [[(0, 1), (2, 3), (4, 5)]] * 4
    for per_level, hyp in ((3, values), (2, dict(values, anchors=2.0))):
        work = tmp_path / f'work{per_level}'
        cfg = quick_training(tiny_hyp_config(
            tmp_path, tiny_coco, monkeypatch, hyp, '--work-dir', str(work),
            '--cfg-options', f'load_from={tmp_path}/pretrained.pth'), monkeypatch)
        assert cfg.model.bbox_head.prior_generator.base_sizes == [
            level[:per_level] for level in placeholders]
        runner = DerivingRunner.from_cfg(cfg)
        runner.train()
        anchors = load_local_checkpoint(str(work / 'epoch_1.pth'))['meta']['anchors']
        init_default_scope('mmyolo')
        sizes = box_sizes_per_image(DATASETS.build(cfg.train_dataloader.dataset), 64)
        # YOLOv5's check_anchors on its placeholder anchors, same seed
        expected = check_anchors(
            sizes, [level[:per_level] for level in placeholders], STRIDES,
            values['anchor_t'], 64, np.random.default_rng(cfg.seed),
            log=lambda line: None)
        assert expected is not None and np.shape(expected) == (4, per_level, 2)
        assert anchors == expected and anchors != stock
        head = runner.model.bbox_head.head_module
        assert head.num_base_priors == per_level
        assert head.convs_pred[0].out_channels == per_level * (14 + 5)
