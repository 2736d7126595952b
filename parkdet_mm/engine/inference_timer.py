"""Where inference time goes, as YOLOv5's val.py states it after a run."""
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import torch
from mmengine.model import is_model_wrapper
from torch import nn

#: The stages, in the order of the speed line: the data loader's wait and the data
#: preprocessor; backbone, neck and head (every TTA view); decoding and NMS.
STAGES = ('loading and pre-process', 'inference', 'decoding and NMS')
# detector methods -> the stage their time counts for
_TIMED = (('data_preprocessor.forward', STAGES[0]),
          ('extract_feat', STAGES[1]), ('bbox_head.forward', STAGES[1]),
          ('bbox_head.predict_by_feat', STAGES[2]),
          ('bbox_head._bbox_post_process', STAGES[2]))


def _detector(model: nn.Module) -> nn.Module:
    """The detector inside a DDP wrapper and a TTA model."""
    if is_model_wrapper(model):
        model = model.module
    return getattr(model, 'module', model)  # YOLOv5TTAModel wraps its detector


class InferenceTimer:
    """Times the stages of detectors (one, or an ensemble's) while attached
    (:meth:`timing`): each stage's seconds (the outermost timed call only, so a
    stage calling another is counted once), the images and the largest batch
    shape the first detector's preprocessor returned (an ensemble whose models
    each preprocess the batch counts its images once). On CUDA every timed call
    synchronizes first and last. The inference loop feeds the data loader's wait
    with :meth:`add_loading` (or iterates :meth:`batches`, which also counts the
    whole time) and otherwise the whole time with :meth:`add_total`.
    """

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.total = 0.0
        self.images = 0
        self.shape: Optional[tuple] = None
        self._active = 0
        self._restore: List[Callable[[], None]] = []
        self._cuda = False

    @contextmanager
    def timing(self, models: Sequence[nn.Module]) -> Iterator['InferenceTimer']:
        """Time the stages of ``models`` (detectors, TTA-wrapped or in DDP, or
        ensembles of them: models with ``models`` and ``fuse``, whose fusion is
        timed with decoding and NMS) inside the ``with`` block."""
        detectors = []
        for model in models:
            model = model.module if is_model_wrapper(model) else model
            if hasattr(model, 'models') and hasattr(model, 'fuse'):
                self._wrap(model, 'fuse', STAGES[2], count=False)
                detectors.extend(_detector(m) for m in model.models)
            else:
                detectors.append(_detector(model))
        self._cuda = any(p.is_cuda for d in detectors for p in d.parameters())
        for detector in detectors:
            for path, stage in _TIMED:
                owner_path, _, name = path.rpartition('.')
                owner = (detector if not owner_path
                         else getattr(detector, owner_path))
                self._wrap(owner, name, stage, count=detector is detectors[0])
        try:
            yield self
        finally:
            for restore in reversed(self._restore):
                restore()
            self._restore.clear()

    def _sync(self) -> None:
        if self._cuda:
            torch.cuda.synchronize()

    def _wrap(self, owner: nn.Module, name: str, stage: str, count: bool) -> None:
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            if self._active:
                return method(*args, **kwargs)
            self._active += 1
            self._sync()
            start = time.perf_counter()
            try:
                result = method(*args, **kwargs)
                self._sync()
            finally:
                self.seconds[stage] += time.perf_counter() - start
                self._active -= 1
            if count and stage == STAGES[0] and isinstance(result, dict):
                self._count(result['inputs'])
            return result

        setattr(owner, name, timed)  # an instance attribute shadows the method
        self._restore.append(lambda: delattr(owner, name))

    def _count(self, inputs: torch.Tensor) -> None:
        self.images += int(inputs.shape[0])
        shape = tuple(inputs.shape)
        if self.shape is None or shape[0] * shape[2] * shape[3] > (
                self.shape[0] * self.shape[2] * self.shape[3]):
            self.shape = shape

    def add_loading(self, seconds: float) -> None:
        """Count ``seconds`` of waiting for the data loader."""
        self.seconds[STAGES[0]] += seconds

    def add_total(self, seconds: float) -> None:
        """Count ``seconds`` of the loop's wall time (loading included)."""
        self.total += seconds

    def batches(self, dataloader: Iterable) -> Iterator:
        """``dataloader``'s batches, the wait for each counted as loading and
        the time from the first request to the end as the total."""
        iterator = iter(dataloader)
        started = time.perf_counter()
        try:
            while True:
                start = time.perf_counter()
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
                self.add_loading(time.perf_counter() - start)
                yield batch
        finally:
            self.add_total(time.perf_counter() - started)

    def per_image_ms(self) -> Dict[str, float]:
        """Milliseconds per image of each stage."""
        return {stage: 1000 * self.seconds[stage] / max(self.images, 1)
                for stage in STAGES}

    def line(self) -> str:
        """YOLOv5's speed line: milliseconds per image per stage, at the largest
        batch shape."""
        ms = self.per_image_ms()
        parts = ', '.join(f'{value:.1f} ms {stage}' for stage, value in ms.items())
        return (f'Speed: {parts} per image at shape {self.shape} '
                f'({self.images} images, {1000 * self.total / max(self.images, 1):.1f}'
                ' ms per image in all)')
