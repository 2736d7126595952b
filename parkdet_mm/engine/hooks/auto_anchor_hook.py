"""YOLOv5's AutoAnchor before training; anchors kept with the checkpoints."""
from typing import List, Optional

import numpy as np
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_challenge.errors import InputError
from parkdet_mm.models.anchors import (
    CHECKPOINT_KEY,
    apply_checkpoint_anchors,
    checkpoint_anchors,
    model_anchors,
    set_model_anchors,
    unwrap_detector,
)
from parkdet_mm.models.autoanchor import check_dataset_anchors


@HOOKS.register_module()
class AutoAnchorHook(Hook):
    """Check the anchors against the training boxes before training, as YOLOv5.

    ``before_train`` (not on a resumed run, as YOLOv5): the best possible recall
    and anchors per target of the model's anchors on the training boxes at the
    training size (each image randomly rescaled by 0.9-1.1) and the head's
    ``prior_match_thr``, logged as YOLOv5's line; at or below 0.98 BPR, anchors
    evolved by k-means and a genetic algorithm, put on the model when their BPR is
    higher (:func:`parkdet_mm.models.autoanchor.check_dataset_anchors`, which
    ``tools/check_anchors.py`` runs too). Rank 0 computes and broadcasts, so every
    process uses the same anchors.

    Every checkpoint saved carries the model's anchors as ``meta['anchors']``, and
    a loaded one's (``resume``, ``load_from``, ``tools/test.py``) replace the
    model's, so evolved anchors stay with the weights they were trained with.

    Args:
        img_size (int, optional): The training size, YOLOv5's ``imgsz``; the
            recipe derives it from ``img_scale``
            (:func:`parkdet_mm.config.training_size`). The check needs it.
            Defaults to None.
        check (bool): Run the check before training (YOLOv5's
            ``--noautoanchor`` is ``check=False``); checkpoints carry and apply
            anchors either way. Defaults to True.
        generations (int): Rounds of the genetic evolution. Defaults to 1000.
        seed (int, optional): Seed of the check's random draws; None uses the
            runner's seed. Defaults to None.
        initial_anchors (list, optional): Anchors (``base_sizes`` form) put on
            the model before the check whatever a ``load_from`` checkpoint
            brought: YOLOv5's hyp ``anchors`` builds the model with placeholder
            anchors, leaves the pretrained ones out, and lets the check evolve
            real ones. None: the model's anchors as they are. Defaults to None.
    """

    priority = 'VERY_HIGH'  # anchors set before other hooks see the model

    def __init__(self,
                 img_size: Optional[int] = None,
                 check: bool = True,
                 generations: int = 1000,
                 seed: Optional[int] = None,
                 initial_anchors: Optional[List] = None) -> None:
        self.img_size = img_size
        self.check = check
        self.generations = generations
        self.seed = seed
        self.initial_anchors = initial_anchors

    def before_train(self, runner) -> None:
        """Run YOLOv5's ``check_anchors`` unless the run resumed."""
        if runner.iter > 0:
            return
        if self.initial_anchors is not None:
            set_model_anchors(runner.model, self.initial_anchors)
            runner.logger.info(
                f'anchors: {len(self.initial_anchors[0])} per level, placeholders '
                f'{self.initial_anchors[0]} until AutoAnchor evolves them')
        if not self.check:
            return
        result = [None]
        if is_main_process():
            result[0] = self._check(runner)
        broadcast_object_list(result)
        if result[0] is not None:
            set_model_anchors(runner.model, result[0])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the anchors in use (plain floats: loadable weights_only)."""
        checkpoint.setdefault('meta', {})[CHECKPOINT_KEY] = model_anchors(
            runner.model)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Use the loaded checkpoint's anchors, if it has any (not those of
        another number per level than ``initial_anchors``: a pretrained
        checkpoint's, which YOLOv5's hyp ``anchors`` leaves out)."""
        anchors = checkpoint_anchors(checkpoint)
        if (anchors is not None and self.initial_anchors is not None
                and np.shape(anchors) != np.shape(self.initial_anchors)):
            runner.logger.info(
                f'anchors from the checkpoint left out: {np.shape(anchors)[1]} '
                f'per level, the model has {len(self.initial_anchors[0])}')
            return
        anchors = apply_checkpoint_anchors(runner.model, checkpoint)
        if anchors is not None:
            runner.logger.info(f'anchors from the checkpoint: {anchors}')

    def _check(self, runner):
        if self.img_size is None:
            raise InputError('AutoAnchorHook needs img_size, the training size '
                             '(check=False leaves the check out)')
        head = unwrap_detector(runner.model).bbox_head
        return check_dataset_anchors(
            runner.train_dataloader.dataset,
            model_anchors(runner.model),
            head.featmap_strides,
            head.prior_match_thr,
            self.img_size,
            runner.seed if self.seed is None else self.seed,
            self.generations,
            log=runner.logger.info)
