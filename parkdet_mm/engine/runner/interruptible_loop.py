"""A training loop that SIGTERM and SIGINT stop between two iterations, with a
checkpoint from which ``--resume`` continues inside the epoch."""
import contextlib
import itertools
import logging
import os
import os.path as osp
import signal
import threading
from typing import Dict, Iterator, List, Optional, Sequence

import torch
from mmengine.dist import (
    all_gather_object,
    all_reduce,
    barrier,
    get_rank,
    get_world_size,
    is_main_process,
)
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from mmyolo.registry import LOOPS
from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError, RunStopped
from parkdet_mm.engine.checkpoint import ATOMIC_BACKEND_ARGS
from parkdet_mm.engine.errors import (
    CheckpointWriteError,
    TrainingInterrupted,
    last_good_checkpoint,
    resume_hint,
)

from .batch_skipping import batches_from
from .random_states import GeneratorStates, restore_generators

#: The message hub's runtime info (saved in checkpoints, restored by ``resume``)
#: that says where an interrupted epoch stopped.
INTERRUPT_KEY = 'interrupted_train_loop'
#: The message hub's runtime info holding every process's random generator
#: states (main process and data workers) at the last epoch end or interruption.
GENERATORS_KEY = 'train_generator_states'


def _worker_exited(signum, frame) -> None:
    """SIGCHLD handler once the run is stopping: the data workers' exits are
    expected, and the next fetch reports a missing batch anyway."""


def _expect_worker_exits() -> None:
    """Stop torch's SIGCHLD handler from raising in the middle of an iteration.

    Slurm (and a kill of the process group) signals every process of the job, the
    data workers included; torch's workers die of SIGTERM, and torch's SIGCHLD
    handler in the main process would then raise wherever it happens to be.
    """
    if hasattr(signal, 'SIGCHLD'):
        signal.signal(signal.SIGCHLD, _worker_exited)


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f'{type(err).__name__}: {lines[0] if lines else ""}'[:200]


@LOOPS.register_module()
class InterruptibleEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's :class:`EpochBasedTrainLoop` that a signal stops between two
    iterations, leaving a checkpoint from which ``--resume`` continues inside the
    epoch.

    On SIGTERM or SIGINT (``signals``) the iteration under way finishes; before
    the next one, the loop saves ``iter_{N}_interrupted.pth`` (N iterations done)
    in the work dir through the atomic file backend, points ``last_checkpoint``
    at it and raises :class:`~parkdet_mm.engine.errors.TrainingInterrupted`
    (tools/train.py: one line, exit status 128 + the signal's number). A second
    SIGINT stops at once, without a checkpoint; a repeated SIGTERM (Slurm
    signals a job step's processes and srun forwards it too) is ignored.

    The checkpoint is a full one (weights, optimizer, loss scaler, EMA, schedule
    state, the hooks' meta) and its message hub also holds, under
    :data:`INTERRUPT_KEY`, where the epoch stopped: the batches done, the training
    sampler's image weights (``EpochPartSampler.weights``, None without) and the
    gradients accumulated since the last optimizer step (the nominal batch adds up
    to ``nbs / B`` batches per step), averaged over processes. Resumed from it,
    the loop runs the epoch's ``before_train_epoch`` hooks, puts back those
    weights and gradients, and trains the rest of the epoch: the same batches in
    the same order as an uninterrupted run, since the sampler's order depends
    only on its seed, the epoch and the weights (``EpochPartSampler``,
    ``DefaultSampler``). Skipped batches are not loaded (see
    :func:`batches_from`). The resumed run removes the interrupted checkpoint
    once ``last_checkpoint`` names a later one.

    Every checkpoint written at an epoch's end or at an interruption also holds,
    under :data:`GENERATORS_KEY`, the random generator states of every process's
    main process and data workers (:mod:`.random_states`); a run resumed from it
    puts them back, so that it augments as the uninterrupted run did and ends
    with the same weights, bit for bit, on the same machine and thread count.
    Inside an epoch, the workers start over at the last batch number that is a
    multiple of their count and make the few batches up to the interruption
    again, without training them.

    Under several processes every rank agrees each iteration (one all-reduce of a
    number) on whether to stop, so all stop after the same iteration. A signal
    during validation lets the validation finish and stops before the next
    epoch's first batch; if the validation fails because the signal ended its
    data workers too, the run stops with the same one line, resuming from the
    epoch's checkpoint without that validation.

    Args:
        runner, dataloader, max_epochs, val_begin, val_interval,
            dynamic_intervals: as :class:`EpochBasedTrainLoop`.
        signals (Sequence[str]): The signals that stop training this way.
            Defaults to ``('SIGTERM', 'SIGINT')``.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List] = None,
                 signals: Sequence[str] = ('SIGTERM', 'SIGINT')) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self.signals = [signal.Signals[name] for name in signals]
        #: the first stopping signal this process received, None before
        self.received: Optional[signal.Signals] = None
        self._resume_state: Optional[dict] = None
        self._resumed_generators: Optional[dict] = None
        self._resumed_checkpoint: Optional[str] = None
        #: the data workers' generator states, for checkpoints
        self.generators = GeneratorStates(self.dataloader)
        self._main_pid = os.getpid()

    # ------------------------------------------------------------------ running
    def run(self) -> torch.nn.Module:
        """Train, stopping after an iteration when a signal arrives."""
        self._resume_state = self._take_resume_state()
        self._resumed_generators = self._take_generator_states()
        with self._signals_caught():
            try:
                return super().run()
            except (RunStopped, KeyboardInterrupt):
                raise
            except Exception as err:
                if self.received is None:
                    raise
                raise TrainingInterrupted(
                    f'{self.received.name} received, then the run failed '
                    f'({_first_line(err)}; its data workers got the signal '
                    f'too); {resume_hint(self.runner.work_dir)}',
                    self.received) from None

    def run_epoch(self) -> None:
        """Iterate one epoch, or the rest of an interrupted one."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start = self._continue_epoch()
        first = self.generators.replay_from(start)
        self.generators.start_epoch()
        saved, self._resumed_generators = self._resumed_generators, None
        put_back = (self.generators.restore_workers(saved)
                    if saved is not None and self.generators.exact else None)
        with batches_from(self.dataloader, first) as batches:
            if put_back is not None:
                put_back()  # the workers exist: later epochs' are seeded anew
            if saved is not None:
                restore_generators(saved['main'])
            for idx in itertools.count(first):
                self.generators.before_fetch()
                try:
                    data_batch = next(batches)
                except StopIteration:
                    break
                except Exception:
                    if self.received is None:
                        raise
                    data_batch = None  # the signal ended the data workers
                self.generators.fetched(idx, data_batch)
                if idx < start:  # trained before the interruption: replayed
                    if data_batch is None:
                        self._interrupt(start, self.received)
                    self.generators.trained()
                    continue
                stop = self._agreed_signal()
                if stop is not None:
                    self._interrupt(idx, stop)
                self.generators.trained()
                self.run_iter(idx, data_batch)
        self._record_generators(None)  # the epoch's checkpoint carries them
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
        self._drop_superseded_checkpoint()

    # ----------------------------------------------------------------- stopping
    @contextlib.contextmanager
    def _signals_caught(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # Python sets signal handlers in the main thread only
            return
        previous = {sig: signal.getsignal(sig) for sig in self.signals}
        for sig in self.signals:
            signal.signal(sig, self._on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)

    def _on_signal(self, signum: int, frame) -> None:
        # Nothing is logged here: the handler may interrupt a write to the log.
        if os.getpid() != self._main_pid:
            return  # a data worker forked with this handler: the loop decides
        if self.received is None:
            self.received = signal.Signals(signum)
            _expect_worker_exits()
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt

    def _agreed_signal(self) -> Optional[signal.Signals]:
        """The signal to stop on when this process or any other received one."""
        number = 0 if self.received is None else int(self.received)
        if get_world_size() > 1:
            flag = torch.tensor([number], dtype=torch.int64)
            all_reduce(flag, op='max')
            number = int(flag.item())
        return signal.Signals(number) if number else None

    def _interrupt(self, batches_done: int, received: signal.Signals) -> None:
        """Save where this epoch stands (``batches_done`` batches trained) and
        raise :class:`TrainingInterrupted`."""
        _expect_worker_exits()
        runner = self.runner
        filename = f'iter_{self._iter}_interrupted.pth'
        path = osp.join(runner.work_dir, filename)
        where = (f'after iteration {self._iter} (epoch {self._epoch + 1}, batch '
                 f'{batches_done} of {len(self.dataloader)})')
        print_log(f'{received.name} received: stopping {where}, saving {path}',
                  logger='current', level=logging.WARNING)
        weights = getattr(self.dataloader.sampler, 'weights', None)
        runner.message_hub.update_info(INTERRUPT_KEY, dict(
            epoch=self._epoch,
            iter=self._iter,
            batches_done=batches_done,
            batch_size=self._batch_size(),
            world_size=get_world_size(),
            checkpoint=path,
            sampler_weights=None if weights is None else
            [float(w) for w in weights],
            pending_grads=self._pending_grads()))
        self._record_generators(batches_done)
        try:
            runner.save_checkpoint(
                runner.work_dir, filename,
                meta=dict(epoch=self._epoch, iter=self._iter), by_epoch=False,
                backend_args=dict(ATOMIC_BACKEND_ARGS))
        except OSError as err:
            raise CheckpointWriteError(
                f'{received.name} received, but the checkpoint {path} cannot be '
                f'written: {err.strerror or err}; '
                f'{resume_hint(runner.work_dir)}') from None
        runner.message_hub.pop_info(INTERRUPT_KEY)
        runner.message_hub.pop_info(GENERATORS_KEY)
        if is_main_process():
            write_bytes_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                               path.encode())
            self._drop_superseded_checkpoint()
        barrier()  # no process exits (and has its launcher end the others) early
        raise TrainingInterrupted(
            f'{received.name} {where}: saved {path}; run the same command with '
            '--resume to continue from there', received)

    def _record_generators(self, batches_done: Optional[int]) -> None:
        """Put every process's generator states (main process, data workers) in
        the message hub for the next checkpoint: ``batches_done`` batches into
        the epoch, or at its end (None)."""
        states = self.generators.saved(batches_done)
        ranks = (all_gather_object(states) if get_world_size() > 1 else
                 [states])
        self.runner.message_hub.update_info(GENERATORS_KEY, dict(
            iter=self._iter, world_size=get_world_size(), ranks=ranks))

    def _batch_size(self) -> Optional[int]:
        return (getattr(self.dataloader.batch_sampler, 'batch_size', None)
                or self.dataloader.batch_size)

    def _model(self) -> torch.nn.Module:
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def _pending_grads(self) -> Optional[Dict[str, torch.Tensor]]:
        """The gradients accumulated since the last optimizer step (None when the
        step zeroed them), averaged over processes as DDP's next all-reduce of
        their sum with the rest of the accumulation would."""
        grads = {name: param.grad
                 for name, param in self._model().named_parameters()
                 if param.grad is not None}
        if not grads:
            return None
        if get_world_size() > 1:
            for grad in grads.values():
                all_reduce(grad, op='mean')
        return {name: grad.detach().cpu().clone() for name, grad in grads.items()}

    # ----------------------------------------------------------------- resuming
    def _take_resume_state(self) -> Optional[dict]:
        """Where the epoch stopped, when the run resumed from an interrupted
        checkpoint; the message hub forgets it, so later checkpoints do not
        carry it."""
        state = self.runner.message_hub.pop_info(INTERRUPT_KEY)
        if not state or (state['epoch'], state['iter']) != (self._epoch,
                                                             self._iter):
            return None
        if (state['world_size'], state['batch_size']) != (get_world_size(),
                                                          self._batch_size()):
            raise InputError(
                f'{state["checkpoint"]} was saved inside an epoch by '
                f'{state["world_size"]} process(es) of batch '
                f'{state["batch_size"]}; continue it with the same, not '
                f'{get_world_size()} of batch {self._batch_size()}')
        self._resumed_checkpoint = state['checkpoint']
        return state

    def _take_generator_states(self) -> Optional[dict]:
        """This process's saved generator states, when the run resumed from a
        checkpoint that has them for the iteration it resumed at."""
        record = self.runner.message_hub.pop_info(GENERATORS_KEY)
        if not record or record['iter'] != self._iter:
            if self._iter:
                print_log('the checkpoint has no random generator states for '
                          f'iteration {self._iter}: the augmentations from here '
                          'on differ from those of the run it continues',
                          logger='current', level=logging.WARNING)
            return None
        saved = (record['ranks'][get_rank()]
                 if record['world_size'] == get_world_size() else None)
        if saved is None or saved['num_workers'] != self.dataloader.num_workers:
            print_log('the checkpoint was saved by another number of processes '
                      'or data workers: their random generators start afresh, '
                      'and the augmentations from here on differ from those of '
                      'the run it continues', logger='current',
                      level=logging.WARNING)
            return None
        if not self.generators.exact:
            print_log('the training loader has its own batch sampler: its data '
                      'workers start afresh, and the augmentations from here on '
                      'differ from those of the run it continues',
                      logger='current', level=logging.WARNING)
        return saved

    def _continue_epoch(self) -> int:
        """Before an interrupted epoch's first remaining batch: put back the
        sampler's weights and the pending gradients (after the
        ``before_train_epoch`` hooks, which set weights and zero gradients).
        Returns the batches already done (0 for an epoch from its start)."""
        state, self._resume_state = self._resume_state, None
        if state is None:
            return 0
        if state['sampler_weights'] is not None:
            self.dataloader.sampler.set_weights(state['sampler_weights'])
        pending = state['pending_grads'] or {}
        for name, param in self._model().named_parameters():
            if name in pending:
                param.grad = pending[name].to(param.device, param.dtype)
        print_log(
            f'continuing epoch {self._epoch + 1} after its batch '
            f'{state["batches_done"]} of {len(self.dataloader)}'
            f'{" with the accumulated gradients" if pending else ""}',
            logger='current')
        return state['batches_done']

    def _drop_superseded_checkpoint(self) -> None:
        """Remove the interrupted checkpoint this run resumed from once
        ``last_checkpoint`` names a later one (only in this work dir)."""
        path = self._resumed_checkpoint
        if path is None or not is_main_process():
            return
        latest = last_good_checkpoint(self.runner.work_dir)
        if latest is None or osp.abspath(latest) == osp.abspath(path):
            return
        if (osp.abspath(osp.dirname(path)) == osp.abspath(self.runner.work_dir)
                and osp.isfile(path)):
            os.remove(path)
        self._resumed_checkpoint = None
