"""YOLOv5's EarlyStopping (``--patience``) on MMEngine's EarlyStoppingHook."""
import os.path as osp
from typing import Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import EarlyStoppingHook

from mmyolo.registry import HOOKS
from parkdet_challenge.atomic import write_json_atomic
from parkdet_mm.config.loading import STOPPED_EARLY_FILE


@HOOKS.register_module()
class YOLOv5EarlyStoppingHook(EarlyStoppingHook):
    """Stop training when ``monitor`` (YOLOv5's fitness) has not improved for
    ``patience`` validations in a row, as YOLOv5's EarlyStopping: a validation
    that equals the best counts as an improvement (``min_delta`` 0).

    Unlike MMEngine's hook, the count and the best survive ``--resume`` (they are
    kept in the message hub, which checkpoints carry; it runs before the
    checkpoint hook, which writes the epoch's checkpoint again after each
    validation), the stop is logged with the best epoch, and the work dir gets
    ``stopped_early.json`` (epoch, best epoch, best score, patience): while it is
    there, the run's final checkpoint is ``best.pth``
    (:func:`parkdet_mm.config.final_checkpoint`; the checkpoint hook removes it
    when training starts again).

    Args:
        patience: Validations without improvement before stopping.
        monitor: The metric followed (``challenge/fitness``: 0.1 x mAP@.5 +
            0.9 x mAP@.5:.95).
    """

    priority = 'LOW'  # before the checkpoint hook ('VERY_LOW')

    def __init__(self, patience: int, monitor: str = 'challenge/fitness') -> None:
        super().__init__(monitor=monitor, rule='greater', min_delta=0.0,
                         strict=True, patience=patience)
        self.best_epoch = 0

    def before_train(self, runner) -> None:
        state = runner.message_hub.get_info('early_stopping')
        if state is not None:  # resumed
            self.best_score = state['best_score']
            self.wait_count = state['wait_count']
            self.best_epoch = state['best_epoch']

    def _check_stop_condition(self, current_score: float) -> Tuple[bool, str]:
        stop, reason = super()._check_stop_condition(current_score)
        if stop and self.wait_count >= self.patience:
            reason = (f'stopping early: {self.monitor} has not improved for '
                      f'{self.wait_count} validations (patience {self.patience}); '
                      f'best {self.best_score:.4f} at epoch {self.best_epoch}')
        return stop, reason

    def after_val_epoch(self, runner, metrics) -> None:
        if self.monitor in metrics and (
                metrics[self.monitor] >= self.best_score):
            self.best_epoch = runner.epoch
        super().after_val_epoch(runner, metrics)
        runner.message_hub.update_info(
            'early_stopping', dict(best_score=self.best_score,
                                   wait_count=self.wait_count,
                                   best_epoch=self.best_epoch))
        if runner.train_loop.stop_training and is_main_process():
            write_json_atomic(
                osp.join(runner.work_dir, STOPPED_EARLY_FILE),
                dict(epoch=runner.epoch, best_epoch=self.best_epoch,
                     best_score=self.best_score, monitor=self.monitor,
                     patience=self.patience), indent=1)
