"""Read a config the way every tool and runner does: overrides, then derived values.

:func:`load_config` is the one way a config becomes the one a run uses: the file with
its bases, then a ``--hyp`` file's values, then ``--cfg-options``, then the values the
tools' flags set (``--epochs``, ``--img-size``, ...), then every derived value set from
the primaries as they finally stand (:mod:`.deriving`), then the primaries checked
(:mod:`.primaries`). A value changed in any of those places reaches everything
derived from it.
"""
import difflib
import inspect
import os.path as osp
from typing import Any, Dict, Iterable, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from parkdet_challenge.cli import InputError

from .deriving import derive_config
from .primaries import check_primaries

# Top-level keys a config may gain from --cfg-options without stating them first.
RUNNER_KEYS = frozenset(inspect.signature(Runner.__init__).parameters) | {
    'runner_type', 'model_wrapper_cfg', 'custom_imports', 'launcher'}
# A finished config (its values derived, its primaries checked) carries this
# attribute (not a key: it survives copies, and a tool's later edits stand).
_FINISHED = '_parkdet_finished'


def read_config(path: str) -> Config:
    """The config file with its bases, as MMEngine reads it; a missing or
    unreadable file is an InputError."""
    if not osp.isfile(path):
        raise InputError(f'config {path} does not exist')
    try:
        return Config.fromfile(path)
    except InputError:
        raise
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


def is_finished(cfg: Config) -> bool:
    """Whether :func:`finish_config` made ``cfg`` (a tool may have edited it since:
    the runner takes it as it is)."""
    return getattr(cfg, _FINISHED, False)


def finish_config(cfg: Config, config_file: Optional[str] = None,
                  overridden: Iterable[str] = ()) -> Config:
    """Derive ``cfg``'s values from its primaries and check them: the config a run
    uses, changed in place and returned. ``config_file`` (default: the config's
    file) places the default work dir; ``overridden``: the top-level keys set
    since the file was read."""
    path = config_file or cfg.filename
    check_primaries(cfg, before_defaults=True)
    derive_config(cfg, osp.abspath(path) if path else None,
                  explicit=overridden)
    check_primaries(cfg)
    object.__setattr__(cfg, _FINISHED, True)
    return cfg


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None,
                primaries: Optional[Dict[str, Any]] = None,
                base_primaries: Optional[Dict[str, Any]] = None) -> Config:
    """Read ``path``, set ``base_primaries`` (a ``--hyp`` file's values), apply
    ``cfg_options`` (``--cfg-options``), then set ``primaries`` (top-level values
    the tools' flags set; None values are skipped), derive the values that follow
    them and check the primaries. Any problem is an InputError."""
    global _final_checkpoints
    outermost = _final_checkpoints is None
    if outermost:
        _final_checkpoints = {}
    try:
        return _load_config(path, cfg_options, primaries, base_primaries)
    finally:
        if outermost:
            _final_checkpoints = None


def _load_config(path: str, cfg_options: Optional[Dict[str, Any]],
                 primaries: Optional[Dict[str, Any]],
                 base_primaries: Optional[Dict[str, Any]]) -> Config:
    cfg = read_config(path)
    if base_primaries:
        check_override_keys(cfg, base_primaries, 'the primary')
        cfg.merge_from_dict(base_primaries)
    if cfg_options:
        check_override_keys(cfg, cfg_options, '--cfg-options')
        cfg.merge_from_dict(cfg_options)
    overridden = {key.split('.')[0] for key in {**(base_primaries or {}),
                                                **(cfg_options or {})}}
    for key, value in (primaries or {}).items():
        if value is not None:
            cfg[key] = value
            overridden.add(key)
    return finish_config(cfg, path, overridden)


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


# final_checkpoint_of's answers while one load_config runs (a fine-tune's config is
# derived several times; its baseline's config need be read once).
_final_checkpoints: Optional[Dict[tuple, str]] = None


def final_checkpoint_of(config_path: str, fold: Optional[int] = None) -> str:
    """:func:`final_checkpoint` of the training config at ``config_path`` (a
    fine-tune's ``previous_stage``: its baseline), for the k-fold split ``fold``."""
    key = (osp.abspath(config_path), fold)
    if _final_checkpoints is not None and key in _final_checkpoints:
        return _final_checkpoints[key]
    final = final_checkpoint(load_config(config_path, None, dict(fold=fold)))
    if _final_checkpoints is not None:
        _final_checkpoints[key] = final
    return final
