"""--multi-scale and --label-smoothing against transcriptions of YOLOv5 v7.0's code
(train.py's multi-scale block; utils/loss.py's smooth_BCE and ComputeLoss's use of
it), on the same random draws and inputs."""
import math
import random

import pytest
import torch
from conftest import REPO, write_tiny_config
from torch import nn

from parkdet_mm.config import load_config
from parkdet_mm.models import SmoothedCrossEntropyLoss, YOLOv5MultiScale


def yolov5_multi_scale(imgs, imgsz, gs):
    """YOLOv5 v7.0 train.py, `if opt.multi_scale:` (its lines, as a function)."""
    sz = random.randrange(int(imgsz * 0.5), int(imgsz * 1.5) + gs) // gs * gs  # size
    sf = sz / max(imgs.shape[2:])  # scale factor
    if sf != 1:
        ns = [math.ceil(x * sf / gs) * gs for x in imgs.shape[2:]]
        imgs = nn.functional.interpolate(imgs, size=ns, mode='bilinear',
                                         align_corners=False)
    return imgs


def smooth_BCE(eps=0.1):  # noqa: N802  (YOLOv5 utils/loss.py)
    return 1.0 - 0.5 * eps, 0.5 * eps


def yolov5_class_loss(pcls, tcls, eps, cls_pw):
    """ComputeLoss.__call__'s classification term for one level."""
    cp, cn = smooth_BCE(eps=eps)
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([cls_pw]))
    t = torch.full_like(pcls, cn)
    t[range(len(tcls)), tcls] = cp
    return bce(pcls, t)


@pytest.mark.parametrize('shape', [(256, 256), (192, 256), (256, 128)])
def test_multi_scale_resizes_as_yolov5_on_the_same_draws(shape):
    imgsz, gs = 256, 64
    torch.manual_seed(0)
    imgs = torch.rand(2, 3, *shape)
    # rows: [image index, label, x1, y1, x2, y2] in pixels of the batch
    boxes = torch.tensor([[0, 3, 10.0, 20.0, 90.0, 60.0],
                          [1, 0, 0.0, 0.0, shape[1], shape[0]]])
    augment = YOLOv5MultiScale(img_size=imgsz, stride=gs)
    sizes = set()
    for draw in range(12):
        random.seed(draw)
        expected = yolov5_multi_scale(imgs, imgsz, gs)
        random.seed(draw)
        resized, samples = augment(imgs, dict(bboxes_labels=boxes))
        assert torch.equal(resized, expected)
        sizes.add(tuple(resized.shape[2:]))
        # YOLOv5's targets are normalized: they stay where they were
        new_h, new_w = resized.shape[2:]
        scale = torch.tensor([new_w, new_h, new_w, new_h]) / torch.tensor(
            [shape[1], shape[0], shape[1], shape[0]])
        assert torch.allclose(samples['bboxes_labels'][:, 2:], boxes[:, 2:] * scale)
        assert torch.equal(samples['bboxes_labels'][:, :2], boxes[:, :2])
    assert len(sizes) > 3  # the draws did vary the size


def test_multi_scale_refuses_sizes_below_two_strides():
    from parkdet_challenge.errors import InputError
    with pytest.raises(InputError, match='multi_scale needs img_scale of at least'):
        load_config(str(REPO / 'configs/demo/baseline.py'),
                    primaries=dict(multi_scale=True, img_scale=(64, 64)))


@pytest.mark.parametrize('eps', [0.0, 0.1, 0.3])
def test_label_smoothing_matches_smooth_bce_in_compute_loss(eps):
    torch.manual_seed(1)
    nc, cls_pw = 14, 0.631
    pcls = torch.randn(37, nc) * 3
    tcls = torch.randint(0, nc, (37,))
    one_hot = torch.zeros_like(pcls)
    one_hot[range(37), tcls] = 1.0
    loss = SmoothedCrossEntropyLoss(eps=eps, use_sigmoid=True, reduction='mean',
                                    class_weight=[cls_pw] * nc)
    expected = yolov5_class_loss(pcls, tcls, eps, cls_pw)
    assert loss(pcls, one_hot).item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_flags_parsed_by_train_reach_the_built_runner(
        tiny_coco, tmp_path, monkeypatch, unformatted_config_dumps):
    """tools/train.py CONFIG --multi-scale --label-smoothing 0.1: the runner's
    model smooths its class targets, and its data preprocessor resizes each
    training batch to YOLOv5's draw; without the flags, neither."""
    from helpers.train_flags import config_from_train_flags
    from mmengine.registry import init_default_scope

    from parkdet_mm.engine import DerivingRunner
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    init_default_scope('mmyolo')
    runners = {}
    for name, flags in (('flags', ['--multi-scale', '--label-smoothing', '0.1']),
                        ('plain', [])):
        cfg = config_from_train_flags(monkeypatch, [
            str(config), '--img-size', '128', '--work-dir', str(tmp_path / name),
            *flags])
        runners[name] = DerivingRunner.from_cfg(cfg)
    model = runners['flags'].model
    assert isinstance(model.bbox_head.loss_cls, SmoothedCrossEntropyLoss)
    assert model.bbox_head.loss_cls.eps == 0.1
    augments = model.data_preprocessor.batch_augments
    assert augments is not None and [type(a) for a in augments] == [YOLOv5MultiScale]
    batch = next(iter(runners['flags'].train_dataloader))
    plain = runners['plain'].model
    assert type(plain.bbox_head.loss_cls).__name__ == 'CrossEntropyLoss'
    assert plain.data_preprocessor.batch_augments is None
    assert plain.data_preprocessor(batch, True)['inputs'].shape[2:] == (128, 128)
    sizes = set()
    for draw in range(8):
        random.seed(draw)
        resized = model.data_preprocessor(batch, True)['inputs']
        random.seed(draw)
        # the batch at 128 x 128, the model's largest stride 64
        expected = yolov5_multi_scale(torch.zeros(1, 3, 128, 128), 128, 64)
        assert resized.shape[2:] == expected.shape[2:]
        sizes.add(tuple(resized.shape[2:]))
    assert len(sizes) > 1
