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
import os
import os.path as osp
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from parkdet_challenge.errors import InputError

from .deriving import derive_config
from .finished_runs import FINISHED_RUN_FILE, read_finished_run
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


def _named_final_checkpoint(cfg: Config) -> str:
    """The checkpoint a run of ``cfg`` ends with by its file names alone:
    ``epoch_{max_epochs}.pth``, or ``best.pth`` when ``stopped_early.json`` says
    early stopping ended it (what readers fall back to without a record)."""
    if osp.isfile(osp.join(cfg.work_dir, STOPPED_EARLY_FILE)):
        return osp.join(cfg.work_dir, BEST_CHECKPOINT_FILE)
    return osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')


def final_checkpoint(cfg: Config) -> str:
    """The checkpoint a run of exactly this config (its flags included) ends with:
    whether that stage is finished (``tools/stage_status.py``).

    The work dir's record (:mod:`.finished_runs`) when the run it records was set
    to train as many epochs as ``cfg`` (a run of ``--epochs 1`` does not finish a
    50-epoch stage); else, as before records, ``epoch_{max_epochs}.pth``, or
    ``best.pth`` when early stopping ended the run (``stopped_early.json``).
    """
    record = read_finished_run(cfg.work_dir)
    if record and record.get('max_epochs') == cfg.train_cfg.max_epochs:
        return record['final_checkpoint']
    return _named_final_checkpoint(cfg)


def finished_checkpoint(cfg: Config) -> str:
    """The checkpoint the last finished run in ``cfg``'s work dir ended with,
    however many epochs it trained (its record), else :func:`final_checkpoint`:
    what the next stage and predict take."""
    record = read_finished_run(cfg.work_dir)
    return record['final_checkpoint'] if record else _named_final_checkpoint(cfg)


# final_checkpoint_of's answers while one load_config runs (a fine-tune's config is
# derived several times; its baseline's config need be read once).
_final_checkpoints: Optional[Dict[tuple, str]] = None


def final_checkpoint_of(config_path: str, fold: Optional[int] = None) -> str:
    """:func:`finished_checkpoint` of the training config at ``config_path`` (a
    fine-tune's ``previous_stage``: its baseline), for the k-fold split ``fold``:
    what its last finished run ended with, also after ``tools/train.py BASELINE
    --epochs 1``."""
    key = (osp.abspath(config_path), fold)
    if _final_checkpoints is not None and key in _final_checkpoints:
        return _final_checkpoints[key]
    final = finished_checkpoint(load_config(config_path, None, dict(fold=fold)))
    if _final_checkpoints is not None:
        _final_checkpoints[key] = final
    return final


def last_finished_stage(configs: Sequence[str],
                        cfg_options: Optional[Dict[str, Any]] = None,
                        primaries: Optional[Dict[str, Any]] = None
                        ) -> Tuple[Config, str]:
    """Of the training ``configs`` (read with the overrides, as
    :func:`load_config`), the one whose run finished last, and its
    :func:`finished_checkpoint` (a checkpoint that exists; the newest file wins).

    Raises:
        InputError: none of them has finished, naming each config and work dir.
    """
    stages = [load_config(path, cfg_options, primaries) for path in configs]
    found = [(osp.getmtime(checkpoint), cfg, checkpoint) for cfg, checkpoint in
             ((cfg, finished_checkpoint(cfg)) for cfg in stages)
             if osp.isfile(checkpoint)]
    if not found:
        names = ', '.join(f'{path} (in {cfg.work_dir})'
                          for path, cfg in zip(configs, stages))
        raise InputError(f'no finished training run to predict with: none of {names} '
                         'has finished; train one, or name a config and checkpoint')
    _, cfg, checkpoint = max(found, key=lambda item: item[0])
    return cfg, checkpoint


def finished_run_in(folder: str) -> Tuple[str, str, str]:
    """``(config, final checkpoint, work dir)`` of the finished run whose work dir
    is ``folder``, or of the last to finish among its subfolders (the stages
    ``tools/train_pipeline.sh --work-dir`` puts below it).

    Raises:
        InputError: no finished run there, or its config no longer exists.
    """
    dirs = [folder] + sorted(osp.join(folder, name) for name in os.listdir(folder)
                             if osp.isdir(osp.join(folder, name)))
    records = [dict(record, work_dir=work_dir) for work_dir, record in
               ((work_dir, read_finished_run(work_dir)) for work_dir in dirs)
               if record and osp.isfile(record['final_checkpoint'])]
    if not records:
        raise InputError(f'{folder}: no finished training run there (no '
                         f'{FINISHED_RUN_FILE} naming an existing checkpoint, in it '
                         'or in a folder below it)')
    record = max(records,
                 key=lambda record: osp.getmtime(record['final_checkpoint']))
    if not record.get('config') or not osp.isfile(record['config']):
        raise InputError(f"{folder}: the finished run's config {record.get('config')} "
                         'no longer exists; name a config and the checkpoint '
                         f"{record['final_checkpoint']}")
    return record['config'], record['final_checkpoint'], record['work_dir']
