"""Anchors that travel with the weights.

A checkpoint may carry ``meta['anchors']``: the anchors in pixels at the model's input
scale, in the form of the config key ``model.bbox_head.prior_generator.base_sizes``
(per level, finest first, a list of ``[w, h]``). :func:`apply_checkpoint_anchors` is
the one place where a loaded checkpoint's anchors replace a model's (or a config's):
``AutoAnchorHook`` calls it for resume, ``load_from`` and ``tools/test.py``, and
``parkdet_mm.apis.load_detector`` for predict. :func:`set_model_anchors` puts anchors
on a built model, :func:`anchors_config_lines` writes them as a config's lines.

YOLOv5's AutoAnchor, which finds anchors for a data set, is
:mod:`parkdet_mm.models.autoanchor`.
"""
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from parkdet_challenge.errors import InputError

CHECKPOINT_KEY = 'anchors'

Anchors = List[List[List[float]]]  # per level, [w, h] pairs in pixels


def unwrap_detector(model: torch.nn.Module) -> torch.nn.Module:
    """The detector inside DDP / TTA wrappers (anything with ``.module``)."""
    while not hasattr(model, 'bbox_head') and hasattr(model, 'module'):
        model = model.module
    return model


def model_anchors(model: torch.nn.Module) -> Anchors:
    """The model's anchors in ``base_sizes`` form, as plain floats."""
    generator = unwrap_detector(model).bbox_head.prior_generator
    return [[[float(w), float(h)] for w, h in level]
            for level in generator.base_sizes]


def set_model_anchors(model: torch.nn.Module, anchors: Anchors) -> None:
    """Give a built YOLOv5 detector (possibly wrapped) new anchors in place.

    Everything the head derives from ``base_sizes`` follows: the prior generator's
    base anchors, the loss's ``priors_base_sizes`` and the cached priors.

    Raises:
        InputError: ``anchors`` does not have the model's levels x anchors per level.
    """
    head = unwrap_detector(model).bbox_head
    generator = head.prior_generator
    shape = (len(generator.base_sizes), len(generator.base_sizes[0]), 2)
    if np.shape(anchors) != shape:
        raise InputError(
            f'anchors of shape {np.shape(anchors)} do not fit the model, which '
            f'has {shape[0]} levels of {shape[1]} anchors')
    generator.base_sizes = [[(float(w), float(h)) for w, h in level]
                            for level in anchors]
    generator.base_anchors = generator.gen_base_anchors()
    strides = torch.tensor(head.featmap_strides, dtype=torch.float)
    head.priors_base_sizes = (
        torch.tensor(anchors, dtype=torch.float) / strides[:, None, None]).to(
            head.priors_base_sizes.device)
    head.featmap_sizes = [torch.empty(1)] * head.num_levels  # priors re-made


def checkpoint_anchors(checkpoint: dict) -> Optional[Anchors]:
    """The checkpoint's ``meta['anchors']``, or None."""
    meta = checkpoint.get('meta') or {}
    return meta.get(CHECKPOINT_KEY)


def apply_checkpoint_anchors(target: Union[torch.nn.Module, Config, ConfigDict],
                             checkpoint: dict) -> Optional[Anchors]:
    """Use a loaded checkpoint's ``meta['anchors']`` in a model or config.

    Args:
        target: A detector (or a DDP / TTA wrapper of one), or a config (its
            ``model``, or a ``tta_model``-wrapped ``model.module``).
        checkpoint: The loaded checkpoint dict.

    Returns:
        The anchors applied, or None when the checkpoint carries none.
    """
    anchors = checkpoint_anchors(checkpoint)
    if anchors is None:
        return None
    if isinstance(target, torch.nn.Module):
        set_model_anchors(target, anchors)
        return anchors
    model = target.model if 'model' in target else target
    while 'bbox_head' not in model and 'module' in model:
        model = model.module
    model.bbox_head.prior_generator.base_sizes = [
        [tuple(pair) for pair in level] for level in anchors
    ]
    return anchors


def anchors_config_lines(anchors: Anchors) -> str:
    """The config line that sets the primary ``anchors`` (rounded to 0.01 px)."""
    levels = ',\n    '.join(
        '[' + ', '.join(f'({round(w, 2):g}, {round(h, 2):g})'
                        for w, h in level) + ']' for level in anchors)
    return f'anchors = [\n    {levels}\n]'
