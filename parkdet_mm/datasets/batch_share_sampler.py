"""Share a test set between processes by whole batches, for byte-identical results.

mmengine's ``DefaultSampler`` hands rank ``r`` the samples ``r, r + W, ...``, so a
process's batches mix images that one process would have put in different batches.
With YOLOv5's rectangular batches each image is letterboxed to its one-process
batch's shape, and a batch of mixed shapes is padded to the largest: the same image
then meets other padding, other convolution borders, other scores. Sharing whole
batches keeps every batch exactly as one process builds it, so each image's
prediction, and the submission written from them, is the same bytes at any
number of processes. :class:`BatchShareShapePolicy` gives those batches their
one-process shapes.
"""
import math
from typing import Iterator, List, Sequence, Sized, Tuple, TypeVar

from mmengine.dist import get_dist_info
from torch.utils.data import Sampler

from mmyolo.datasets.utils import BatchShapePolicy
from mmyolo.registry import DATA_SAMPLERS, TASK_UTILS

T = TypeVar('T')


@DATA_SAMPLERS.register_module()
class BatchShareSampler(Sampler):
    """Rank ``r`` of ``W`` reads batches ``r, r + W, r + 2W, ...`` of the dataset in
    order, each batch being ``batch_size`` consecutive indices; no shuffling, no
    padding (ranks may get one batch more than others).

    Use it for inference only: the ranks' shares differ in length, which a
    training loop or mmengine's ``collect_results`` does not expect. Put the
    per-rank results back in dataset order with :meth:`merge`.

    Args:
        dataset: The dataset (only its length is used).
        batch_size: The dataloader's batch size.
        seed: Ignored; accepted because mmengine's Runner passes it to samplers.
    """

    def __init__(self, dataset: Sized, batch_size: int, seed=None) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.rank, self.world_size = get_dist_info()
        self.size = len(dataset)
        self.batch_size = batch_size

    def _batches(self, rank: int) -> range:
        return range(rank, math.ceil(self.size / self.batch_size), self.world_size)

    def __iter__(self) -> Iterator[int]:
        for batch in self._batches(self.rank):
            start = batch * self.batch_size
            yield from range(start, min(start + self.batch_size, self.size))

    def __len__(self) -> int:
        return sum(
            min(self.batch_size, self.size - batch * self.batch_size)
            for batch in self._batches(self.rank))

    def set_epoch(self, epoch: int) -> None:
        """Nothing to do: the order is fixed."""

    @staticmethod
    def merge(parts: Sequence[Sequence[T]], batch_size: int) -> List[T]:
        """Interleave each rank's per-sample results (``parts[r]``, in the order the
        rank read its samples) back into dataset order."""
        merged: List[T] = []
        cursors: List[Tuple[int, int]] = [(0, len(part)) for part in parts]
        world_size, rank = len(parts), 0
        while any(pos < end for pos, end in cursors):
            pos, end = cursors[rank]
            merged.extend(parts[rank][pos:pos + batch_size])
            cursors[rank] = (min(pos + batch_size, end), end)
            rank = (rank + 1) % world_size
        return merged


@TASK_UTILS.register_module()
class BatchShareShapePolicy(BatchShapePolicy):
    """MMYOLO's rectangular batch shapes for :class:`BatchShareSampler`.

    MMYOLO's ``BatchShapePolicy`` groups ``batch_size x world_size`` images per
    shape, because ``DefaultSampler`` deals a batch's images to all ranks. Whole
    batches per rank need the one-process grouping, ``batch_size`` images, at any
    world size.
    """

    def __init__(self, batch_size: int = 32, **kwargs) -> None:
        super().__init__(batch_size=batch_size, **kwargs)
        self.batch_size = batch_size
