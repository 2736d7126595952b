"""Read a config the way every tool and runner does: overrides, then formulas.

:func:`load_config` is the one way a config becomes the one a run uses: the file with
its bases, then ``--cfg-options``, then the values the tools' flags set (``--epochs``,
``--img-size``, ``--hyp``, ...), then every ``${...}`` formula evaluated on the result
(:mod:`.formulas`), then the primaries checked (:mod:`.primaries`). A value changed in
any of those places reaches everything derived from it.
"""
import difflib
import inspect
import os
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from parkdet_challenge.cli import InputError

from .formulas import formula_function, resolve
from .primaries import check_primaries

CONFIGS_DIR = 'configs'
# Top-level keys a config may gain from --cfg-options without stating them first.
RUNNER_KEYS = frozenset(inspect.signature(Runner.__init__).parameters) | {
    'runner_type', 'model_wrapper_cfg', 'custom_imports', 'launcher'}


@formula_function
def default_work_dir(config_file: Optional[str], fold: Optional[int] = None) -> str:
    """``work_dirs/`` + the config's path below ``configs/`` without ``.py``, and
    ``_fold{fold}`` for a k-fold split.

    ``configs/baseline.py`` -> ``work_dirs/baseline``, ``configs/demo/baseline.py`` ->
    ``work_dirs/demo/baseline``: two configs of one name never share a folder.
    """
    parts = osp.splitext(osp.normpath(config_file or 'config'))[0].split(os.sep)
    if CONFIGS_DIR in parts:
        parts = parts[len(parts) - parts[::-1].index(CONFIGS_DIR):]
    else:
        parts = parts[-1:]
    work_dir = osp.join('work_dirs', *parts)
    return work_dir if fold is None else f'{work_dir}_fold{fold}'


def read_config(path: str) -> Config:
    """The config file with its bases, formulas not yet evaluated; a missing or
    unreadable file is an InputError."""
    if not osp.isfile(path):
        raise InputError(f'config {path} does not exist')
    try:
        return Config.fromfile(path)
    except Exception as err:  # syntax errors, bad _base_ paths, ...
        raise InputError(f'config {path} cannot be read: {err}') from None


def check_override_keys(cfg: Config, options: Dict[str, Any], source: str) -> None:
    """Refuse an override of a top-level key the config does not have (a typo such
    as ``base_lrr`` would otherwise be ignored silently)."""
    for key in options:
        top = key.split('.')[0]
        if top not in cfg and top not in RUNNER_KEYS:
            close = difflib.get_close_matches(top, list(cfg.keys()), n=1)
            hint = f' (did you mean {close[0]}?)' if close else ''
            raise InputError(f'{source} {top}: the config has no such key{hint}')


def finish_config(cfg: Config) -> Config:
    """Evaluate ``cfg``'s formulas and check its primaries: the config a run uses.

    Formulas may read ``config_file``, the config's path. A config without a
    ``work_dir`` gets :func:`default_work_dir`. Harmless on a finished config.
    """
    cfg = resolve(cfg, context=dict(config_file=cfg.filename))
    check_primaries(cfg)
    if not cfg.get('work_dir'):
        cfg.work_dir = default_work_dir(cfg.filename)
    return cfg


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None,
                primaries: Optional[Dict[str, Any]] = None,
                base_primaries: Optional[Dict[str, Any]] = None) -> Config:
    """Read ``path``, set ``base_primaries`` (a ``--hyp`` file's values), apply
    ``cfg_options`` (``--cfg-options``), then set ``primaries`` (top-level values
    the tools' flags set; None values are skipped), evaluate the formulas and check
    the primaries. Any problem is an InputError."""
    cfg = read_config(path)
    if base_primaries:
        check_override_keys(cfg, base_primaries, 'the primary')
        cfg.merge_from_dict(base_primaries)
    if cfg_options:
        check_override_keys(cfg, cfg_options, '--cfg-options')
        cfg.merge_from_dict(cfg_options)
    for key, value in (primaries or {}).items():
        if value is not None:
            cfg[key] = value
    return finish_config(cfg)


#: Written into a run's work dir when early stopping ended it
#: (:class:`~parkdet_mm.engine.hooks.YOLOv5EarlyStoppingHook`).
STOPPED_EARLY_FILE = 'stopped_early.json'
#: The best validation's weights in a run's work dir (YOLOv5's best.pt).
BEST_CHECKPOINT_FILE = 'best.pth'


def final_checkpoint(cfg: Config) -> str:
    """The checkpoint a training config's run ends with: where the next stage and
    predict look for it. That is its work dir's ``epoch_{max_epochs}.pth``, or,
    when early stopping ended the run (``stopped_early.json`` there), its
    ``best.pth``, the weights YOLOv5 goes on with."""
    if osp.isfile(osp.join(cfg.work_dir, STOPPED_EARLY_FILE)):
        return osp.join(cfg.work_dir, BEST_CHECKPOINT_FILE)
    return osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')


@formula_function
def final_checkpoint_of(config_path: str) -> str:
    """:func:`final_checkpoint` of the config at ``config_path`` (e.g. a fine-tune
    config's ``load_from``: its baseline's last checkpoint)."""
    return final_checkpoint(load_config(config_path))
