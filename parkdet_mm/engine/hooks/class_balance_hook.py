"""Hand class-balanced image weights (docs/reference.md section 7) to the epoch-part sampler."""
import math
from typing import Dict, List, Optional

import numpy as np
from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_mm.datasets import (
    EpochPartSampler,
    class_count_matrix,
    expected_class_share,
    image_weights,
)

# Where the latest per-class mAPs travel in a checkpoint's meta, so a resumed run
# draws with the same weights as the run it continues.
CHECKPOINT_KEY = 'class_balance_maps'


@HOOKS.register_module()
class ClassBalanceHook(Hook):
    """Weight each training epoch's draw towards rare and poorly detected classes.

    At ``before_train`` it counts the boxes of every training image and class once
    (annotations only, see :func:`~parkdet_mm.datasets.class_count_matrix`) and
    checks that the training sampler is an :class:`EpochPartSampler`. Before every
    training epoch it computes :func:`~parkdet_mm.datasets.image_weights` with the
    latest per-class mAP@.5:.95 and hands them to the sampler. The maps are all zeros
    until a validation reports them (the reference trained without validation); after
    each validation they are read from ``metric_key`` for every class name in the
    training dataset's ``metainfo['classes']``. A class the metrics leave out, or
    report as NaN or negative (no ground truth), takes the mean of the others, as the
    reference gave such classes the overall mAP. The first epoch logs, per class, the
    expected share of sampled boxes under the weights next to the share without them.

    The maps travel in checkpoints (``meta['class_balance_maps']``). mmengine saves an
    epoch's checkpoint before that epoch's validation and does not repeat it on
    resume; :class:`~parkdet_mm.engine.hooks.AtomicCheckpointHook` writes the
    epoch's checkpoint again after every validation (this hook runs first), so a
    resumed run draws with the maps of the latest validation, as the uninterrupted
    run does.

    Hook order does not matter here: ``EpochBasedTrainLoop.run_epoch`` creates the
    epoch's dataloader iterator, which is when the sampler draws, only after every
    ``before_train_epoch`` hook has run, so this hook and ``DistSamplerSeedHook``
    (which sets the sampler's epoch) both act before the draw. On several processes
    every rank counts the same dataset and gets the same metrics (mmengine's
    ``BaseMetric.evaluate`` broadcasts them from rank 0), so all ranks set identical
    weights, as the sampler requires.

    Args:
        metric_key (str): Template of the per-class mAP@.5:.95 metric names, with
            ``{name}`` for the class name. Defaults to ``'challenge/{name}_AP'``.
    """

    def __init__(self, metric_key: str = 'challenge/{name}_AP') -> None:
        self.metric_key = metric_key
        self.counts: Optional[np.ndarray] = None
        self.class_names: Optional[List[str]] = None
        self.maps: Optional[np.ndarray] = None
        self._share_logged = False

    def before_train(self, runner) -> None:
        """Check the sampler and count the training boxes per image and class."""
        sampler = runner.train_dataloader.sampler
        if not isinstance(sampler, EpochPartSampler):
            raise TypeError(
                'ClassBalanceHook needs train_dataloader.sampler to be an '
                f'EpochPartSampler, got {type(sampler).__name__}; set '
                "train_dataloader.sampler = dict(_delete_=True, "
                "type='EpochPartSampler', parts=...)")
        dataset = runner.train_dataloader.dataset
        self.class_names = list(dataset.metainfo['classes'])
        self.counts = class_count_matrix(dataset, len(self.class_names))
        if self.maps is None:
            self.maps = np.zeros(len(self.class_names))

    def before_train_epoch(self, runner) -> None:
        """Set this epoch's image weights on the sampler. When every class with
        boxes has reached mAP 1, all weights are zero (YOLOv5's random.choices
        would raise): this epoch then draws uniformly, with a warning."""
        weights = image_weights(self.counts, self.maps)
        if weights.sum() <= 0:
            runner.logger.warning('image weights are all zero (every class with '
                                  'boxes has mAP 1): this epoch draws uniformly')
            runner.train_dataloader.sampler.set_weights(None)
            return
        runner.train_dataloader.sampler.set_weights(weights)
        if not self._share_logged:
            runner.logger.info(self._share_table(weights))
            self._share_logged = True

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Keep the per-class mAP@.5:.95 of this validation for the next epochs."""
        if self.class_names is None or not metrics:
            return  # not training (runner.val()), or nothing was measured
        keys = [self.metric_key.format(name=name) for name in self.class_names]
        if not any(key in metrics for key in keys):
            runner.logger.warning(
                f'ClassBalanceHook: no metric named like {keys[0]!r}; image '
                'weights keep the previous per-class mAPs')
            return
        maps = np.array([metrics.get(key, math.nan) for key in keys],
                        dtype=np.float64)
        known = np.isfinite(maps) & (maps >= 0)
        if (maps[known] > 1).any():
            raise ValueError(
                f'per-class mAPs from {self.metric_key!r} must lie in [0, 1], '
                f'got {maps.tolist()}')
        maps[~known] = maps[known].mean() if known.any() else 0.0
        self.maps = maps

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the latest per-class mAPs (plain floats: loadable weights_only)."""
        if self.maps is not None:
            checkpoint.setdefault('meta', {})[CHECKPOINT_KEY] = \
                self.maps.tolist()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the saved per-class mAPs: they describe the loaded weights.

        mmengine calls this for ``resume`` and for ``load_from`` alike.
        """
        maps = checkpoint.get('meta', {}).get(CHECKPOINT_KEY)
        if maps is not None:
            self.maps = np.asarray(maps, dtype=np.float64)

    def _share_table(self, weights: np.ndarray) -> str:
        boxes = self.counts.sum(axis=0)
        natural = expected_class_share(self.counts)
        weighted = expected_class_share(self.counts, weights)
        width = max(len('class'), *(len(name) for name in self.class_names))
        lines = [
            'ClassBalanceHook: expected share of sampled boxes per class',
            f'{"class":<{width}} {"boxes":>9} {"unweighted":>10} '
            f'{"weighted":>9}'
        ]
        for name, count, before, after in zip(self.class_names, boxes, natural,
                                              weighted):
            lines.append(f'{name:<{width}} {count:>9d} {before:>10.2%} '
                         f'{after:>9.2%}')
        return '\n'.join(lines)
