"""Put the derived values (:mod:`.derivation`) into a config, after every override.

:func:`derive_config` is what :func:`~.loading.load_config` and the project's runner
apply to a config once its files, ``--cfg-options`` and the tools' flags are merged:
each derived value is set from the primaries as they finally stand. To tell a value a
child config set on purpose from one it merely inherited, a derived config keeps the
primaries it was derived from (:data:`RECORD_KEY`): a value that still equals what
those gave was inherited and follows the new primaries; a value that equals neither
was set directly, and is refused with one line naming the primaries to set instead
(or kept, for the few values :data:`~.derivation.KEPT_WHEN_SET` lists).

:func:`derived` does the same inside a config file (its last lines), so that
MMEngine's plain ``Config.fromfile`` of the project's configs gives the run's values.
"""
import ast
import copy
import os.path as osp
import sys
import types
import warnings
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict

from parkdet_challenge.errors import InputError

from .derivation import (
    COMPONENT_TYPES,
    DEFAULTED,
    KEPT_WHEN_SET,
    MANAGED_HOOK_PRIMARIES,
    PRIMARIES,
    Whole,
    derived_values,
    managed_hooks,
    resolve_defaults,
)
from .primaries import check_primaries

#: Each loader takes the top-level pipeline of its name, a derived one or one the
#: config sets itself.
LOADER_PIPELINES = {
    (f'{split}_dataloader', 'dataset', 'pipeline'): f'{split}_pipeline'
    for split in ('train', 'val', 'test')
}
#: The primaries a config's values were derived from, kept in the config.
RECORD_KEY = '_derived_from_'
_MISSING = object()


def _plain(value: Any) -> Any:
    """``value`` with ConfigDicts as dicts, all the way down (for comparing and for
    writing into a config file's namespace)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as config values: lists and tuples alike, dicts by content."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):  # True is not 1 here
        return type(a) is type(b) and a == b
    return a == b


def _leaves(values: dict, path: Tuple[str, ...] = ()) -> Iterator[Tuple[tuple, Any]]:
    """``(path, value)`` of every value of a nested dict of derived values; a plain
    dict descends, a :class:`Whole`, a list or anything else is one value."""
    for key, value in values.items():
        if isinstance(value, dict) and not isinstance(value, Whole):
            yield from _leaves(value, path + (key, ))
        else:
            yield path + (key, ), value


def _get(cfg: dict, path: tuple) -> Any:
    node = cfg
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _container(cfg: dict, path: tuple) -> Optional[dict]:
    """The dict holding ``path``'s last key, made where it is missing; None where
    something that is not a dict (e.g. a child's ``batch_shapes_cfg=None``) stands
    on the way: the value then has no place in this config."""
    node = cfg
    for key in path[:-1]:
        if key not in node:
            node[key] = ConfigDict()
        node = node[key]
        if not isinstance(node, dict):
            return None
    return node


def _own_component(cfg: dict, path: tuple) -> Optional[Tuple[str, str]]:
    """The dotted path and type of the component holding ``path`` where the config
    put one of a type other than the recipe's there
    (:data:`~.derivation.COMPONENT_TYPES`), else None."""
    for depth in range(1, len(path)):
        where = '.'.join(path[:depth])
        if where in COMPONENT_TYPES:
            node = _get(cfg, path[:depth])
            type_name = node.get('type') if isinstance(node, dict) else None
            # 'mmyolo.X' and X are one type; a class object stands for itself
            name = type_name.rsplit('.', 1)[-1] if isinstance(type_name, str) \
                else getattr(type_name, '__name__', None)
            return (where, name) if name not in (None, COMPONENT_TYPES[where]) \
                else None
    return None


class _Derivation:
    """The derived values of one config, from its primaries as they stand now and
    as they stood when it was last derived (its record, if it has one)."""

    def __init__(self, cfg: Config, config_file: Optional[str], need_data: bool,
                 explicit: Set[str]):
        self.config_file = config_file
        missing = [name for name in PRIMARIES if name not in cfg]
        if missing:
            raise InputError(f'the config has no {missing[0]}: a parkdet_mm config '
                             'inherits configs/_base_/yolov5_p6.py (with a data set, a '
                             'size and hyper-parameters)')
        self.explicit = explicit
        self.record = cfg.get(RECORD_KEY)
        self.raw = {name: _plain(cfg[name]) for name in PRIMARIES}
        self._old = None
        if self.record is not None:
            old = self.old_primaries()
            for name in DEFAULTED:
                # a defaulted primary that still holds what it followed, and that
                # nothing set since, follows on
                if name not in explicit and self.record.get(name) is None and \
                        old is not None and same(self.raw[name], old[name]):
                    self.raw[name] = None
        self.new = resolve_defaults(ConfigDict(self.raw), config_file, need_data,
                                    explicit)
        self.values = derived_values(self.new)

    def old_primaries(self) -> Optional[ConfigDict]:
        """The primaries of the record, defaults resolved; None when they no longer
        resolve (e.g. the data they named is gone)."""
        if self.record is None:
            return None
        if self._old is None:
            record = {**self.raw, **_plain(self.record)}
            try:
                self._old = resolve_defaults(ConfigDict(record),
                                             record.get('config_file'), False)
            except InputError:
                self._old = False
        return self._old or None

    def old_values(self) -> Optional[dict]:
        old = self.old_primaries()
        if old is None:
            return None
        try:
            return derived_values(old)
        except (InputError, KeyError, TypeError, ValueError):
            return None

    def apply(self, cfg: Config) -> None:
        """Set every derived value in ``cfg``, the defaulted primaries and the
        record; refuse a value set directly against its primaries."""
        for name in DEFAULTED:
            cfg[name] = self.new[name]
        old_values = None
        own = set()
        for path, value in _leaves(self.values):
            component = _own_component(cfg._cfg_dict, path)
            if component is not None:
                own.add(component)
                continue
            if path in LOADER_PIPELINES:  # the pipeline as it finally stands
                value = _plain(cfg[LOADER_PIPELINES[path]])
            holder = _container(cfg, path)
            if holder is None:
                continue
            current = holder.get(path[-1], _MISSING)
            if current is _MISSING or current is None or same(current, value):
                holder[path[-1]] = _plain(value)
                continue
            if old_values is None:
                old_values = self.old_values() or {}
            if same(current, _get(old_values, path)):  # inherited: follows
                holder[path[-1]] = _plain(value)
            elif '.'.join(path) in KEPT_WHEN_SET:
                warnings.warn(f'{".".join(path)} is set in the config as it stands, '
                              'so it does not follow '
                              + self.described(self.followed(path)))
            else:
                names = self.followed(path)
                raise InputError(
                    f'{".".join(path)} = {_plain(current)!r} is derived from '
                    f'{self.described(names)}: set {" or ".join(names) or "them"} '
                    f'instead (they give {_plain(value)!r})')
        for where, type_name in sorted(own):
            warnings.warn(f'{where} is a {type_name} of the config\'s own: its '
                          'arguments are the config\'s, not derived from the primaries')
        self.drop_no_longer_derived(cfg)
        cfg.custom_hooks = self.custom_hooks(cfg.get('custom_hooks') or [])
        cfg[RECORD_KEY] = dict(self.raw, config_file=self.config_file)

    def drop_no_longer_derived(self, cfg: Config) -> None:
        """Remove the values the old primaries derived and the new ones do not
        (e.g. the pseudo-label data set's arguments once ``single_cls`` picks
        another data set type), where they still hold what was derived."""
        old_values = self.old_values() if self.record is not None else None
        for path, value in _leaves(old_values or {}):
            if _get(self.values, path) is not _MISSING:
                continue
            holder = _get(cfg._cfg_dict, path[:-1])
            if isinstance(holder, dict) and path[-1] in holder and \
                    same(holder[path[-1]], value):
                del holder[path[-1]]

    def custom_hooks(self, hooks: List[dict]) -> List[dict]:
        """``hooks`` with the entries the primaries switch (:func:`managed_hooks`)
        as they ask: an inherited entry they no longer ask for goes, one they ask
        for comes (at the end), others stay where they are. An entry of a switched
        type that they do not ask for, and did not ask for before, is refused."""
        wanted = [_plain(h) for h in managed_hooks(self.new)]
        old = self.old_primaries()
        had = [_plain(h) for h in managed_hooks(old)] if old else []
        kept = []
        for hook in map(_plain, hooks):
            match = next((w for w in wanted if same(w, hook)), None)
            if match is not None:
                wanted.remove(match)
                kept.append(hook)
            elif any(same(h, hook) for h in had):
                continue  # inherited, and the primaries no longer ask for it
            elif hook.get('type') in MANAGED_HOOK_PRIMARIES:
                primary = MANAGED_HOOK_PRIMARIES[hook['type']]
                raise InputError(
                    f'custom_hooks has {hook!r}, which the primary {primary} '
                    f'({self.new[primary]!r}) switches: set {primary} instead')
            else:
                kept.append(hook)
        return kept + wanted

    def described(self, names: List[str]) -> str:
        """``names`` with their values: 'img_scale ((256, 256)), ...'."""
        return ', '.join(f'{n} ({self.new[n]!r})' for n in names) or 'the primaries'

    def followed(self, path: tuple) -> List[str]:
        """The primaries the value at ``path`` follows, found by changing each in
        turn (only on the way to a message)."""
        names = []
        for name in PRIMARIES:
            changed = _perturbed(self.new[name])
            if changed is _MISSING:
                continue
            try:
                p = resolve_defaults(ConfigDict({**self.raw, name: changed}),
                                     self.config_file, True, self.explicit)
                if not same(_get(derived_values(p), path), _get(self.values, path)):
                    names.append(name)
            except Exception:  # a changed primary the derivation cannot take
                continue
        return names


def _perturbed(value: Any) -> Any:
    """A value of the same kind as ``value`` but different (for :meth:`followed`)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    if isinstance(value, str):
        return value + '_x'
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return tuple(v + 64 for v in value)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [*value, value[-1] * 2]
    if isinstance(value, (list, tuple)):
        return type(value)([*value, dict(type='Changed')])
    if value is None:
        return 1
    return _MISSING


def is_recipe_config(cfg: Config) -> bool:
    """Whether ``cfg`` has the recipe's primaries (a config of this project) rather
    than being some other MMEngine config."""
    return 'img_scale' in cfg and 'base_lr' in cfg


def _read_file(config_file: Optional[str]) -> Tuple[bool, Set[str], list]:
    """Of a config file: whether it derives its values itself (calls
    :func:`derived`), the top-level names it assigns, and its ``_base_`` files."""
    if not config_file or not osp.isfile(config_file):
        return False, set(), []
    with open(config_file, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    derives = any(isinstance(node, ast.Call)
                  and getattr(node.func, 'id', None) == 'derived'
                  for node in ast.walk(tree))
    names, bases = set(), []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [
            node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id == '_base_':
                try:
                    bases = ast.literal_eval(node.value)
                except ValueError:  # not a literal: nothing to follow
                    bases = []
            elif isinstance(target, ast.Name):
                names.add(target.id)
    bases = [bases] if isinstance(bases, str) else list(bases)
    return derives, names, [osp.join(osp.dirname(config_file), b) for b in bases
                            if isinstance(b, str) and '::' not in b]


def assigned_names(config_file: Optional[str]) -> Set[str]:
    """The top-level names ``config_file`` and its bases assign, down to the files
    that derive their values themselves (the project's training configs): what a
    child config set since its values were last derived."""
    derives, names, bases = _read_file(config_file)
    if derives:
        return set()
    for base in bases:
        names |= assigned_names(base)
    return names


def derive_config(cfg: Config, config_file: Optional[str] = None,
                  need_data: bool = True, explicit: Iterable[str] = ()) -> Config:
    """Set ``cfg``'s derived values from its primaries, in place, and return it.

    ``config_file`` (default: the config's own file name) places the default work
    dir. Without ``need_data``, classes that come from data not yet converted stay
    None. ``explicit``: top-level names set by overrides (``--cfg-options``, the
    tools' flags) besides those the config files assign. Any problem is an
    InputError naming it."""
    if not is_recipe_config(cfg):
        return cfg
    config_file = config_file or cfg.filename
    record = cfg.get(RECORD_KEY)
    if record and not _read_file(config_file)[2]:
        # a finished config (the one dumped into a work dir: no bases, its
        # record): it stands for the config it was derived from, and only the
        # overrides set anything since
        config_file = record.get('config_file', config_file)
        explicit = set(explicit)
    else:
        explicit = set(explicit) | assigned_names(config_file)
    _Derivation(cfg, config_file, need_data, explicit).apply(cfg)
    return cfg


def derived(namespace: Dict[str, Any]) -> Dict[str, Any]:
    """What a config file must add to its names for MMEngine's merge over its bases
    to give the derived config: call it last, as the project's configs do,

        from parkdet_mm.config import derived  # noqa: E402
        globals().update(derived(globals()))

    ``namespace`` is the file's (its bases as ``_base_``); the file's own path,
    which places the default work dir, is read from the caller's code.
    """
    config_file = sys._getframe(1).f_code.co_filename
    base = namespace.get('_base_') or {}
    own = {k: v for k, v in namespace.items()
           if not k.startswith('__') and k != '_base_'
           and not isinstance(v, (types.ModuleType, types.FunctionType, type))}
    cfg = Config(copy.deepcopy(_plain(dict(base))), filename=config_file)
    cfg.merge_from_dict(copy.deepcopy(own))
    check_primaries(cfg, before_defaults=True)
    _Derivation(cfg, config_file, False, set(own)).apply(cfg)
    values = {}
    for key, value in _plain(cfg.to_dict()).items():
        if key in base and same(_plain(base[key]), value):
            continue
        if isinstance(value, dict) and key in base:
            value = dict(value, _delete_=True)  # replaces the base's dict whole
        values[key] = value
    return values
