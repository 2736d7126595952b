"""mmengine's CheckpointHook, its checkpoints never left half-written."""
import os
import os.path as osp
import re
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmyolo.registry import HOOKS
from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_mm.config.finished_runs import write_finished_run
from parkdet_mm.config.loading import BEST_CHECKPOINT_FILE, STOPPED_EARLY_FILE
from parkdet_mm.engine.checkpoint import ATOMIC_BACKEND_ARGS
from parkdet_mm.engine.errors import CheckpointWriteError, resume_hint

# parkdet_challenge.atomic's temporary names for a checkpoint NAME.pth:
# .NAME.pth.PID.8HEX.tmp
_TEMP_CHECKPOINT = re.compile(r'^\..+\.pth\.\d+\.[0-9a-f]{8}\.tmp$')


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook` written so that a kill or a full disk at any
    moment leaves the previous good checkpoint, named in ``last_checkpoint``.

    - Checkpoints go through the ``atomic_local`` file backend (a temporary file in
      the same folder, flushed, renamed; :mod:`parkdet_mm.engine.checkpoint`) unless
      ``backend_args`` or ``file_client_args`` name another or ``out_dir`` is not
      a local folder.
    - ``last_checkpoint`` is replaced atomically, and only once the checkpoint it
      names is complete (mmengine rewrites it in place).
    - The checkpoint that ``max_keep_ckpts`` retires is removed once the new one is
      complete (mmengine removes it first: a kill in between left no checkpoint
      at ``max_keep_ckpts=1``).
    - A checkpoint that cannot be written (full disk) stops the run with one line
      (:class:`~parkdet_mm.engine.errors.CheckpointWriteError`) naming the file;
      the previous checkpoint stays as it was.
    - Before training it removes the temporary checkpoint files a killed run left
      in its folder, and ``stopped_early.json`` (a run that trains again ends
      with its own final checkpoint, unless early stopping ends it again).
    - With ``save_best`` (one metric), the best validation's weights are
      ``best_filename`` (YOLOv5's best.pt), replaced as every checkpoint here is:
      the previous best stays until the new one is complete (mmengine removes it
      first and names the file after the epoch). As YOLOv5, a validation that
      equals the best so far replaces it. The best score and file are in the
      message hub, so ``--resume`` keeps them; after every validation the epoch's
      checkpoint is written again, so that it carries what the validation changed
      (the best, an early-stopping count), as mmengine does after a new best.
    - When training ends (its last epoch, or early stopping), it records what the
      run ended with in ``WORK_DIR/finished.json``
      (:mod:`parkdet_mm.config.finished_runs`): the last epoch's checkpoint, or
      ``best_filename`` when early stopping ended the run.

    Args:
        best_filename: The best checkpoint's file name in ``out_dir``.
        **kwargs: those of mmengine's :class:`CheckpointHook`.
    """

    def __init__(self, best_filename: str = BEST_CHECKPOINT_FILE, **kwargs) -> None:
        self.best_filename = best_filename
        if (kwargs.get('backend_args') is None
                and kwargs.get('file_client_args') is None
                and '://' not in str(kwargs.get('out_dir') or '')):
            kwargs['backend_args'] = dict(ATOMIC_BACKEND_ARGS)
        super().__init__(**kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        # A run that trains again ends with its own final checkpoint, unless
        # early stopping ends it again.
        stopped_early = osp.join(runner.work_dir, STOPPED_EARLY_FILE)
        if osp.isfile(stopped_early):
            os.remove(stopped_early)
        if not osp.isdir(self.out_dir):
            return
        for name in sorted(os.listdir(self.out_dir)):
            if _TEMP_CHECKPOINT.match(name):
                os.remove(osp.join(self.out_dir, name))
                runner.logger.info(f'removed {name}: a checkpoint that a stopped '
                                   'run left unfinished')

    def after_train(self, runner) -> None:
        super().after_train(runner)
        if not is_main_process():
            return
        stopped_early = osp.isfile(osp.join(runner.work_dir, STOPPED_EARLY_FILE))
        if stopped_early:
            final = (getattr(self, 'best_ckpt_path', None)
                     or osp.join(self.out_dir, self.best_filename))
        else:  # a resumed run that had nothing left to train saved none itself
            final = self.last_ckpt or runner.message_hub.get_info('last_ckpt')
        if final is None:
            return
        path = write_finished_run(runner.work_dir, str(final), runner.epoch,
                                  runner.max_epochs, stopped_early,
                                  runner.cfg.filename)
        runner.logger.info(f'training finished with {final} (recorded in {path})')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """mmengine's, in an order that names a good checkpoint at every moment:
        write the new checkpoint, point ``last_checkpoint`` at it, then remove the
        one ``max_keep_ckpts`` retires. The message hub's ``keep_ckpt_ids`` and
        ``last_ckpt`` (which mmengine's ``before_train`` reads on resume) are kept
        as mmengine keeps them."""
        retired: Optional[str] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                retired = self.file_backend.join_path(
                    self.out_dir,
                    self.filename_tmpl.format(self.keep_ckpt_ids.popleft()))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        except OSError as err:
            raise CheckpointWriteError(
                f'cannot write checkpoint {self.last_ckpt}: '
                f'{err.strerror or err}; training stopped, the checkpoints '
                f'before it are as they were: fix that (free space), then '
                f'{resume_hint(runner.work_dir)}') from None
        if not is_main_process():
            return
        write_bytes_atomic(osp.join(runner.work_dir, 'last_checkpoint'),
                           str(self.last_ckpt).encode())
        if (retired is not None and retired != self.last_ckpt
                and self.file_backend.isfile(retired)):
            self.file_backend.remove(retired)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best:
            return
        if len(self.key_indicators) != 1 or 'auto' in self.key_indicators:
            raise ValueError('AtomicCheckpointHook keeps the best checkpoint by '
                             'one named metric: save_best must name it')
        key, rule = self.key_indicators[0], self.rules[0]
        score = metrics.get(key)
        best = runner.message_hub.get_info('best_score',
                                           self.init_value_map[rule])
        step = runner.epoch if self.by_epoch else runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if score is not None and (score == best
                                  or self.is_better_than[key](score, best)):
            self.best_ckpt_path = self.file_backend.join_path(
                self.out_dir, self.best_filename)
            runner.message_hub.update_info('best_score', score)
            runner.message_hub.update_info('best_ckpt', self.best_ckpt_path)
            try:
                runner.save_checkpoint(
                    self.out_dir, self.best_filename, self.file_client_args,
                    save_optimizer=False, save_param_scheduler=False, meta=meta,
                    by_epoch=False, backend_args=self.backend_args)
            except OSError as err:
                raise CheckpointWriteError(
                    f'cannot write checkpoint {self.best_ckpt_path}: '
                    f'{err.strerror or err}; training stopped, the previous best '
                    f'is as it was: fix that (free space), then '
                    f'{resume_hint(runner.work_dir)}') from None
            runner.logger.info(f'best {key} {score:.4f} at {step}: '
                               f'{self.best_ckpt_path}')
        this_step = self.file_backend.join_path(
            self.out_dir, self.filename_tmpl.format(step))
        if self.last_ckpt == this_step:
            self._save_checkpoint_with_step(runner, step, meta)
