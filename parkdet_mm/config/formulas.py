"""Derived config values: ``'${expr}'`` formulas, evaluated on the final config.

MMEngine runs a config file's Python when it reads the file, so a value computed from
another one (``border=(-img_scale[0] // 2, ...)``) is frozen in the file that first
computed it: a child config or ``--cfg-options`` that changes ``img_scale`` leaves it
behind, silently. Here a derived value is written as a formula, a string, and
evaluated once all inheritance and every override are applied (:func:`resolve`), so a
primary value is stated once, wherever the user likes, and everything follows it.

The syntax is MMDetection's ``replace_cfg_vals`` ``${key}``, widened to Python
expressions:

- a string that is exactly ``'${expr}'`` becomes the value of ``expr``, of any type
  (``batch_size='${train_batch_size_per_gpu}'``,
  ``border='${(-img_scale[0] // 2, -img_scale[1] // 2)}'``);
- ``${expr}`` inside a longer string is replaced by ``str()`` of its value
  (``'${ann_dir}train.json'``).

``expr`` reads the config's top-level names (formulas among them are evaluated first,
in whatever order they need; a cycle is an error), Python's builtins and the
functions registered with :func:`formula_function`. A value set explicitly, in a
child config or by ``--cfg-options``, replaces the formula that stood there.
"""
import builtins
import os.path as osp
from types import CodeType
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, TypeVar

from mmengine.config import Config, ConfigDict

from parkdet_challenge.cli import InputError

_OPEN = '${'
FORMULA_FUNCTIONS: Dict[str, Callable] = {}
F = TypeVar('F', bound=Callable)


def formula_function(func: F) -> F:
    """Make ``func`` callable by its name in config formulas."""
    FORMULA_FUNCTIONS[func.__name__] = func
    return func


# Paths: join(data_root, val_ann_file) works whether or not a folder ends in '/'.
formula_function(osp.join)


def is_formula(value: Any) -> bool:
    """Whether ``value`` is a string holding a ``${...}`` formula."""
    return isinstance(value, str) and _OPEN in value


def _spans(text: str, where: str) -> Iterator[tuple]:
    """``(start, end, expr)`` of each ``${expr}`` in ``text``; braces inside
    ``expr`` (dicts, f-strings) must balance."""
    pos = 0
    while True:
        start = text.find(_OPEN, pos)
        if start < 0:
            return
        depth, end = 1, start + len(_OPEN)
        while depth and end < len(text):
            depth += {'{': 1, '}': -1}.get(text[end], 0)
            end += 1
        if depth:
            raise InputError(f'{where}: {text!r} has an unclosed ${{')
        yield start, end, text[start + len(_OPEN):end - 1].strip()
        pos = end


def _names(code: CodeType) -> Set[str]:
    """Every global name ``code`` and the comprehensions inside it may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


def _plain(value: Any) -> Any:
    """``value`` with ConfigDicts turned into dicts, all the way down."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _view(value: Any) -> Any:
    """What a formula sees of a value: dicts allow ``a.b`` as in a config file."""
    return ConfigDict(value) if isinstance(value, dict) else value


class _Resolver:
    """Evaluates the formulas of one config dict, top-level names on demand."""

    def __init__(self, cfg: Dict[str, Any], context: Dict[str, Any]):
        self.raw = cfg
        self.done: Dict[str, Any] = {}
        self.active: List[str] = []
        self.context = context

    def top(self, name: str) -> Any:
        if name in self.done:
            return self.done[name]
        if name in self.active:
            cycle = ' -> '.join(self.active[self.active.index(name):] + [name])
            raise InputError(f'config formulas form a cycle: {cycle}')
        self.active.append(name)
        try:
            self.done[name] = self.value(self.raw[name], name)
        finally:
            self.active.pop()
        return self.done[name]

    def value(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, f'{where}.{k}') for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = [self.value(v, f'{where}[{i}]') for i, v in enumerate(value)]
            return items if isinstance(value, list) else tuple(items)
        if not is_formula(value):
            return value
        spans = list(_spans(value, where))
        start, end, expr = spans[0]
        if len(spans) == 1 and start == 0 and end == len(value):
            return self.evaluate(expr, where)
        pieces, pos = [], 0
        for start, end, expr in spans:
            pieces += [value[pos:start], str(self.evaluate(expr, where))]
            pos = end
        return ''.join(pieces + [value[pos:]])

    def evaluate(self, expr: str, where: str) -> Any:
        try:
            code = compile(expr, f'<{where}>', 'eval')
        except SyntaxError as err:
            raise InputError(f'{where}: formula ${{{expr}}} is not a Python '
                             f'expression: {err.msg}') from None
        namespace = {'__builtins__': builtins, **FORMULA_FUNCTIONS,
                     **self.context}
        for name in _names(code) & self.raw.keys():
            namespace[name] = _view(self.top(name))
        try:
            return _plain(eval(code, namespace))  # the config's own code
        except InputError:
            raise
        except Exception as err:  # a formula's error names where it stands
            raise InputError(f'{where} = ${{{expr}}}: {type(err).__name__}: '
                             f'{err}') from None


def resolve(cfg: Config, context: Optional[Dict[str, Any]] = None) -> Config:
    """``cfg`` with every formula replaced by its value: a new :class:`Config`
    (same file name). ``context`` adds names the formulas may read (e.g. the
    config's file name). A config without formulas comes back unchanged in value,
    so resolving twice is harmless. A formula that fails is an InputError naming
    the key, the formula and why."""
    raw = cfg.to_dict()
    resolver = _Resolver(raw, dict(context or {}))
    resolved = {name: resolver.top(name) for name in raw}
    return Config(resolved, filename=cfg.filename)


def find_formulas(value: Any, where: str = '') -> Iterator[str]:
    """The keys (``a.b[0].c``) below ``value`` that still hold a formula."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from find_formulas(item, f'{where}.{key}' if where else key)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from find_formulas(item, f'{where}[{i}]')
    elif is_formula(value):
        yield where

