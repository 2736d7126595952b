"""YOLOv5's speed line at the end of a test run."""
import time

from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_mm.engine.inference_timer import InferenceTimer


@HOOKS.register_module()
class InferenceSpeedHook(Hook):
    """Times the test loop's stages with :class:`InferenceTimer` (the data
    loader's wait included: the time from one test iteration's end to the next
    one's start) and logs YOLOv5's speed line when the test ends: milliseconds per
    image for loading and pre-processing, inference (every TTA view) and decoding
    and NMS, at the largest batch shape."""

    priority = 'VERY_LOW'

    def before_test(self, runner) -> None:
        self.timer = InferenceTimer()
        self._timing = self.timer.timing([runner.model])
        self._timing.__enter__()
        self._last = time.perf_counter()

    def before_test_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        now = time.perf_counter()
        self.timer.add_loading(now - self._last)
        self.timer.add_total(now - self._last)
        self._last = now

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        now = time.perf_counter()
        self.timer.add_total(now - self._last)
        self._last = now

    def after_test(self, runner) -> None:
        self._timing.__exit__(None, None, None)
        runner.logger.info(self.timer.line())
