"""Draw the run's training curves when training ends."""
from typing import Sequence

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_challenge.errors import InputError
from parkdet_mm.visualization.loggers import send_pictures


@HOOKS.register_module()
class TrainingCurvesHook(Hook):
    """After training, draw the losses, learning rate and validation metrics of
    every run in the work dir into ``WORK_DIR/{file_name}`` (see
    :func:`parkdet_mm.visualization.training_curves.plot_training_curves`;
    ``tools/plot_results.py WORK_DIR`` draws the same on demand).

    Args:
        file_name: Name of the PNG in the work dir (YOLOv5 calls it results.png).
        loggers: Names of the visualizer's backends that also get the picture.
    """

    priority = 'VERY_LOW'  # after the logger hook has written the last scalars

    def __init__(self, file_name: str = 'results.png',
                 loggers: Sequence[str] = ()) -> None:
        self.file_name = file_name
        self.loggers = list(loggers)

    @master_only
    def after_train(self, runner) -> None:
        from parkdet_mm.visualization.training_curves import plot_training_curves
        try:
            path = plot_training_curves(runner.work_dir,
                                        f'{runner.work_dir}/{self.file_name}')
        except InputError as err:  # e.g. a visualizer without a local backend
            runner.logger.warning(f'no training curves: {err}')
            return
        runner.logger.info(f'training curves: {path}')
        send_pictures(runner.visualizer, self.loggers, [path], runner.epoch)
