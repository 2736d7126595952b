"""Training a finished config: what ``tools/train.py`` runs, for the tools that train
several runs in one process (``tools/evolve.py``'s trials, ``tools/kfold.py``'s
folds)."""
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint

from parkdet_mm.engine.optimizers import use_amp
from parkdet_mm.engine.preflight import check_config_inputs

from .run_setup import build_runner


def train_config(cfg: Config, resume: Optional[str] = None, amp: bool = False,
                 hooks: Sequence[Hook] = ()):
    """Train ``cfg`` (a finished config, :func:`parkdet_mm.config.load_config`'s);
    return the runner once training has ended.

    ``resume``: a checkpoint to resume from, or ``'auto'``: the latest checkpoint
    in the work dir when there is one, else a normal start (``load_from``
    included), so an interrupted run and a new one start the same way. ``amp``:
    mixed precision (float16 on a GPU, bfloat16 on a CPU that has it). ``hooks``:
    hook objects registered besides the config's.
    The inputs (annotation files, the checkpoint loaded) are checked first.
    """
    if amp:
        use_amp(cfg.optim_wrapper)
    if resume == 'auto':
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            cfg.resume, cfg.load_from = True, latest
    elif resume:
        cfg.resume, cfg.load_from = True, resume
    check_config_inputs(cfg, ('train', 'val'), checkpoint=cfg.get('load_from'))
    runner = build_runner(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner
