"""Draw each evaluation's pictures, as YOLOv5's val.py draws them."""
import os.path as osp
from typing import Optional, Sequence

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_mm.visualization.diagnostic_plots import draw_diagnostics
from parkdet_mm.visualization.loggers import send_pictures


@HOOKS.register_module()
class DiagnosticsVisualizationHook(Hook):
    """After every validation and test on labelled data, draw the PR curves, P, R
    and F1 against confidence and the confusion matrix of each metric that kept
    them (``last_diagnostics``: :class:`ChallengeSubmissionMetric`), into
    ``out_dir`` or next to the run's log (``WORK_DIR/TIMESTAMP/``), and send them
    to the experiment loggers.

    Args:
        out_dir: Folder for the pictures; None: the run's log folder.
        loggers: Names of the visualizer's backends that also get them
            (the config's ``loggers``: tensorboard, mlflow, wandb).
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None,
                 loggers: Sequence[str] = ()) -> None:
        self.out_dir = out_dir
        self.loggers = list(loggers)

    @master_only
    def after_val_epoch(self, runner, metrics=None) -> None:
        self._draw(runner, runner.val_loop.evaluator, runner.epoch)

    @master_only
    def after_test_epoch(self, runner, metrics=None) -> None:
        self._draw(runner, runner.test_loop.evaluator, 0)

    def _draw(self, runner, evaluator, step: int) -> None:
        out_dir = self.out_dir or runner.log_dir
        for metric in evaluator.metrics:
            result = getattr(metric, 'last_diagnostics', None)
            if result is None:
                continue
            paths = draw_diagnostics(result, out_dir)
            send_pictures(runner.visualizer, self.loggers, paths, step)
            runner.logger.info('PR, P, R, F1 curves and confusion matrix in '
                               f'{osp.abspath(out_dir)}')
