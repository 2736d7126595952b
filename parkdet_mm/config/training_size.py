"""The training size: one rule, read from the primaries ``img_scale`` and ``mosaic_prob``.

Every reader of the training size takes it from :func:`training_size`: the derivation
(the head's loss gains, multi-scale, the validation batches, the scaled anchors,
AutoAnchor's ``img_size`` and the image cache's size, given to the hooks as
arguments) and ``tools/check_anchors.py`` on a loaded config
(:func:`config_training_size`). Nothing reads it back from a built pipeline.
"""
from typing import Any, NamedTuple, Optional, Sequence, Tuple

from parkdet_challenge.errors import InputError


class TrainingSize(NamedTuple):
    """The training size of a recipe.

    Attributes:
        img_size: YOLOv5's ``imgsz``: the longer side of ``img_scale``, the size
            AutoAnchor measures the boxes at (each image's longer side scaled to
            it) and the size the loss gains and multi-scale follow.
        load_scale: The ``(w, h)`` every training image is resized to as it is
            loaded, before any augmentation: ``img_scale`` when every sample is
            a mosaic (``mosaic_prob`` 1: each tile resized to fit it, keeping its
            ratio, as MMYOLO's Mosaic and the recipe's weighted mosaics do),
            else None (letterboxed samples are resized later, from the file's
            size). The image cache keeps the images at this size.
    """
    img_size: int
    load_scale: Optional[Tuple[int, int]]


def training_size(img_scale: Sequence[int], mosaic_prob: float) -> TrainingSize:
    """The training size of ``img_scale`` (width, height) and ``mosaic_prob``."""
    width, height = (int(v) for v in img_scale)
    return TrainingSize(img_size=max(width, height),
                        load_scale=(width, height) if mosaic_prob == 1 else None)


def config_training_size(cfg: Any) -> TrainingSize:
    """:func:`training_size` of a loaded config's primaries (without
    ``mosaic_prob``, no ``load_scale``); InputError when the config has no
    ``img_scale`` (not the recipe's)."""
    if cfg.get('img_scale') is None:
        raise InputError('the config sets no img_scale (the training size): it is '
                         "not built on the recipe's configs/_base_/")
    return training_size(cfg.img_scale, cfg.get('mosaic_prob', 0.0))
