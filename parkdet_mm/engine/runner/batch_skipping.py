"""Batches of a dataloader from a given batch on, without loading the ones
before it where the batch sampler allows: how an interrupted epoch continues
(:class:`~.interruptible_loop.InterruptibleEpochBasedTrainLoop`)."""
import contextlib
import itertools
from typing import Iterator

from torch.utils.data import BatchSampler, DataLoader, Sampler


class _SkipFirst(Sampler):
    """A sampler's indices without its first ``count``. Its length stays the
    sampler's, so ``len(dataloader)``, which schedules and loggers read, is still
    the epoch's."""

    def __init__(self, sampler: Sampler, count: int) -> None:
        self.sampler = sampler
        self.count = count

    def __iter__(self) -> Iterator:
        return itertools.islice(iter(self.sampler), self.count, None)

    def __len__(self) -> int:
        return len(self.sampler)


@contextlib.contextmanager
def batches_from(dataloader: DataLoader, start: int) -> Iterator[Iterator]:
    """An iterator over ``dataloader``'s batches from batch ``start`` (0-based) on.

    With torch's own ``BatchSampler`` (a dataloader built with ``batch_size``) the
    first ``start * batch_size`` indices are left out of its sampler for this
    iterator, so the skipped batches are never loaded. With any other batch sampler
    they are loaded and dropped, as mmengine's ``IterBasedTrainLoop`` advances its
    dataloader on resume.
    """
    batch_sampler = dataloader.batch_sampler
    if start == 0 or type(batch_sampler) is not BatchSampler:
        iterator = iter(dataloader)
        for _ in range(start):
            next(iterator)
        yield iterator
        return
    sampler = batch_sampler.sampler
    batch_sampler.sampler = _SkipFirst(sampler, start * batch_sampler.batch_size)
    try:
        yield iter(dataloader)
    finally:
        batch_sampler.sampler = sampler
