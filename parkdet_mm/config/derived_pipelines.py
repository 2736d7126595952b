"""The recipe's three pipelines, derived from the primaries: YOLOv5's training
augmentation at ``img_scale`` and its letterbox for validation and test (at
``img_scale`` and ``test_img_scale``).

:func:`~.derivation.derived_values` puts them into the config (top-level
``train_pipeline``, ``val_pipeline``, ``test_pipeline``), where the loaders take
them.
"""
from typing import Dict, List

from mmengine.config import ConfigDict


def train_pipeline(p: ConfigDict) -> List[dict]:
    """YOLOv5's training augmentation: with probability ``mosaic_prob`` a mosaic of
    four images (the partner tiles drawn by the image weights when the sampler has
    them) cropped back to ``img_scale`` by the random affine (with
    ``mosaic_one_warp``, both in one warp per tile), then with probability
    ``mixup_prob`` a second such mosaic blended in (YOLOv5's MixUp); else one image
    letterboxed to ``img_scale`` and the affine without a border; then HSV (left out
    when every gain is 0, as YOLOv5 v6.0+), an up-down flip (``flip_ud_prob``) and
    a left-right flip. A step of probability 0 is left out (it would still draw a
    random number). No Albu: the reference had none."""
    width, height = p.img_scale
    affine = dict(
        type='YOLOv5RandomAffineWarp',
        max_rotate_degree=p.max_rotate_degree,
        max_translate_ratio=p.max_translate_ratio,
        max_shear_degree=p.max_shear_degree,
        scaling_ratio_range=(1 - p.affine_scale, 1 + p.affine_scale),
        border=(-width // 2, -height // 2),
        border_val=(114, 114, 114))
    tiles = dict(type='WeightedMosaic', img_scale=p.img_scale, pad_val=114.0,
                 prob=1.0, pre_transform=p.pre_transform)
    if p.mosaic_one_warp:  # both in one transform: each tile warped once
        mosaic = [dict(tiles, type='WeightedMosaicOneWarp', affine=affine)]
    else:
        mosaic = [tiles, affine]
    if p.mixup_prob:  # a second mosaic, with its own affine, r ~ Beta(a, a)
        mosaic.append(dict(type='WeightedMixUp', prob=p.mixup_prob,
                           alpha=p.mixup_alpha, beta=p.mixup_alpha,
                           pre_transform=[*p.pre_transform, *mosaic]))
    letterbox = [
        dict(type='YOLOv5KeepRatioResize', scale=p.img_scale),
        dict(type='LetterResize', scale=p.img_scale, allow_scale_up=True,
             pad_val=dict(img=114.0)),
        dict(affine, border=(0, 0)),
    ]
    if p.mosaic_prob == 1:
        image_steps = mosaic
    elif p.mosaic_prob == 0:
        image_steps = letterbox
    else:
        image_steps = [dict(type='RandomChoice', transforms=[mosaic, letterbox],
                            prob=[p.mosaic_prob, 1 - p.mosaic_prob])]
    colour = [dict(type='YOLOv5HSVRandomAug', hue_delta=p.hsv_h,
                   saturation_delta=p.hsv_s, value_delta=p.hsv_v)]
    flip_ud = [dict(type='mmdet.RandomFlip', prob=p.flip_ud_prob,
                    direction='vertical')]
    colour_and_flip = [
        *(colour if p.hsv_h or p.hsv_s or p.hsv_v or p.hsv_at_zero_gains else []),
        *(flip_ud if p.flip_ud_prob else []),
        dict(type='mmdet.RandomFlip', prob=p.flip_lr_prob),
        dict(type='mmdet.PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip',
                        'flip_direction')),
    ]
    return [*p.pre_transform, *image_steps, *colour_and_flip]


def eval_pipeline(img_scale: tuple) -> List[dict]:
    """YOLOv5's validation and test input: the long side resized to ``img_scale``
    (never up), letterboxed, then the boxes loaded."""
    return [
        dict(type='LoadImageFromFile', backend_args=None),
        dict(type='YOLOv5KeepRatioResize', scale=img_scale),
        dict(type='LetterResize', scale=img_scale, allow_scale_up=False,
             pad_val=dict(img=114)),
        dict(type='mmdet.LoadAnnotations', with_bbox=True),
        dict(type='mmdet.PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor', 'pad_param')),
    ]


def test_pipeline_of(val_pipeline: List[dict], test_img_scale: tuple) -> List[dict]:
    """The validation pipeline at ``test_img_scale``: inference runs at its own
    size, otherwise the same steps."""
    return [dict(t, scale=test_img_scale) if 'scale' in t else t
            for t in val_pipeline]


def pipelines(p: ConfigDict) -> Dict[str, List[dict]]:
    """The recipe's three pipelines (top-level ``train_pipeline``, ``val_pipeline``,
    ``test_pipeline``), which the loaders then take."""
    val = eval_pipeline(p.img_scale)
    return dict(train_pipeline=train_pipeline(p), val_pipeline=val,
                test_pipeline=test_pipeline_of(val, p.test_img_scale))
