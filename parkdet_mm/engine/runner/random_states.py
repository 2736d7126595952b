"""The random generators a resumed training run needs back to continue bit for bit.

Three kinds of process draw random numbers during training: the main process
(Python's ``random`` for ``--multi-scale``; every augmentation when the loader has
no workers), and each data-loader worker (the augmentations: mosaic, affine, HSV,
flip), whose generators mmengine seeds once from ``seed + worker id`` and which,
with ``persistent_workers``, carry their state from epoch to epoch. A resumed run
starts fresh workers, so without their states it augments its next epochs as the
first ones were augmented.

:class:`WorkerStateCollate` makes each batch carry the state its worker's
generators reached after making it; :class:`GeneratorStates` (the training loop's)
keeps, per worker, the state after its latest trained batch, and hands the states
to save with a checkpoint; :class:`RestoringWorkerInit` puts them back into the
resumed run's workers. torch's loader gives batch ``i`` of an epoch to worker
``i % num_workers`` (round robin from worker 0 every epoch), so a run resumed
inside an epoch after ``k`` batches restarts its workers at the last batch number
that is a multiple of the worker count, ``k - k % num_workers``: it makes the
batches up to ``k`` again and drops them (they were trained), and every later batch
goes to the worker, in the state, that made it in the uninterrupted run.

Every state is plain numbers and tensors, loadable with ``weights_only=True``.
"""
import random
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, get_worker_info

#: The key under which a batch from a worker carries ``(worker id, state)``.
WORKER_STATE_KEY = '_worker_generator_state'


def capture_generators() -> Dict[str, Any]:
    """This process's Python, numpy (global) and torch (CPU) generator states."""
    version, python_state, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return dict(
        python=dict(version=version, state=list(python_state), gauss=gauss),
        numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached=float(cached)),
        torch=torch.get_rng_state())


def restore_generators(state: Dict[str, Any]) -> None:
    """Put back the generator states :func:`capture_generators` returned."""
    python = state['python']
    random.setstate((python['version'], tuple(python['state']), python['gauss']))
    numpy = state['numpy']
    np.random.set_state(('MT19937', numpy['keys'].numpy().astype(np.uint32),
                         numpy['pos'], numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(state['torch'])


class WorkerStateCollate:
    """A loader's ``collate_fn`` whose batches, made in a data worker, also carry
    ``(worker id, that worker's generator states after making the batch)`` under
    :data:`WORKER_STATE_KEY` (a batch that is not a dict, or one made in the main
    process, is left as it is)."""

    def __init__(self, collate_fn: Callable) -> None:
        self.collate_fn = collate_fn

    def __call__(self, data):
        batch = self.collate_fn(data)
        worker = get_worker_info()
        if worker is not None and isinstance(batch, dict):
            batch[WORKER_STATE_KEY] = (worker.id, capture_generators())
        return batch


class RestoringWorkerInit:
    """A loader's ``worker_init_fn``: the loader's own (mmengine's seeding), then
    the saved generator states of this worker id, when there are any."""

    def __init__(self, worker_init_fn: Optional[Callable],
                 states: Dict[int, Dict[str, Any]]) -> None:
        self.worker_init_fn = worker_init_fn
        self.states = states

    def __call__(self, worker_id: int) -> None:
        if self.worker_init_fn is not None:
            self.worker_init_fn(worker_id)
        if worker_id in self.states:
            restore_generators(self.states[worker_id])


class GeneratorStates:
    """What a training loop keeps so that its checkpoints can restore every
    generator the rest of the run draws from (see the module docstring).

    Call :meth:`start_epoch` before an epoch's iterator is made,
    :meth:`before_fetch` before each batch is asked for, :meth:`fetched` with its
    position as soon as it arrives (it removes the worker's state from the
    batch), :meth:`trained` once it is trained (or replayed), and :meth:`saved`
    for the states to save ``batches_done`` batches into an epoch (``None``: at
    the epoch's end).

    Args:
        dataloader: The training loader; its ``collate_fn`` is wrapped in
            :class:`WorkerStateCollate` when it has workers.
    """

    def __init__(self, dataloader: DataLoader) -> None:
        self.dataloader = dataloader
        self.num_workers = dataloader.num_workers
        self.persistent = bool(dataloader.persistent_workers)
        #: worker id -> its state after the latest trained batch it made
        self.latest: Dict[int, Dict[str, Any]] = {}
        #: ``latest`` as it was before the last batch whose position is a
        #: multiple of the worker count
        self.aligned: Dict[int, Dict[str, Any]] = {}
        #: the main process's states before the latest batch was asked for
        #: (without workers, making the batch draws from them)
        self.main: Optional[Dict[str, Any]] = None
        self._pending: Optional[tuple] = None
        if self.num_workers:
            dataloader.collate_fn = WorkerStateCollate(dataloader.collate_fn)

    @property
    def exact(self) -> bool:
        """Whether the workers' states can be restored: torch's own batch sampler
        (the resumed run must skip batches without making them)."""
        return (self.num_workers == 0
                or type(self.dataloader.batch_sampler) is BatchSampler)

    def replay_from(self, batches_done: int) -> int:
        """The first batch a run resumed ``batches_done`` batches into an epoch
        makes (its workers start over at a multiple of the worker count)."""
        if not self.num_workers or not self.exact:
            return batches_done
        return batches_done - batches_done % self.num_workers

    def start_epoch(self) -> None:
        """Before an epoch's iterator is made."""
        if not self.persistent:
            self.latest = {}  # new workers, seeded afresh by mmengine

    def before_fetch(self) -> None:
        """The next batch is about to be asked for."""
        self.main = capture_generators()

    def fetched(self, position: int, batch: Any) -> None:
        """Batch ``position`` of the epoch has arrived (``None``: it failed)."""
        if self.num_workers and position % self.num_workers == 0:
            self.aligned = dict(self.latest)
        self._pending = (batch.pop(WORKER_STATE_KEY, None)
                         if isinstance(batch, dict) else None)

    def trained(self) -> None:
        """The batch :meth:`fetched` last has been trained (or replayed)."""
        if self._pending is not None:
            worker_id, state = self._pending
            self.latest[worker_id] = state
        self._pending = None

    def saved(self, batches_done: Optional[int]) -> Dict[str, Any]:
        """This process's states to save: the main process's before the latest
        batch was asked for (the one not trained when a run stops inside an
        epoch), and the workers' as they were before batch
        ``replay_from(batches_done)`` (at the epoch's end, ``None``: after its
        last batch, or ``{}`` when the next epoch's workers start afresh)."""
        if batches_done is not None:
            workers = self.aligned
        else:
            workers = self.latest if self.persistent else {}
        return dict(main=self.main or capture_generators(), workers=dict(workers),
                    num_workers=self.num_workers)

    def restore_workers(self, saved: Dict[str, Any]) -> Callable[[], None]:
        """Have the next iterator's workers start in ``saved``'s states; returns
        the function that puts the loader's own ``worker_init_fn`` back (call it
        once that iterator exists)."""
        original = self.dataloader.worker_init_fn
        self.dataloader.worker_init_fn = RestoringWorkerInit(
            original, saved['workers'])
        self.latest = dict(saved['workers'])

        def put_back() -> None:
            self.dataloader.worker_init_fn = original

        return put_back
