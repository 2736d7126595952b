"""Find and replace transforms in a pipeline: the one place that knows how a
pipeline is nested.

A pipeline is either configs (a list of dicts, as in a config file) or built
(MMCV's ``Compose``). Mix transforms (Mosaic) hold their own ``pre_transform``
pipeline; :func:`iter_transforms` walks into it.
"""
from typing import Any, Callable, Iterator, List, Optional, Sequence


def transform_type(transform: dict) -> str:
    """A transform config's type without its registry scope:
    ``mmdet.LoadAnnotations`` -> ``LoadAnnotations``."""
    return str(transform['type']).split('.')[-1]


def replace_transforms(pipeline: Sequence[dict], type_prefix: str,
                       replacement: Optional[dict]) -> List[dict]:
    """A copy of the config ``pipeline`` with each transform whose type (without
    scope) starts with ``type_prefix`` replaced by ``replacement``, or left out
    when it is None."""
    out = []
    for transform in pipeline:
        if not transform_type(transform).startswith(type_prefix):
            out.append(transform)
        elif replacement is not None:
            out.append(dict(replacement))
    return out


def iter_transforms(pipeline: Any) -> Iterator[Any]:
    """Every transform of a built pipeline (a ``Compose`` or a list), depth first,
    those in a mix transform's ``pre_transform`` too. Nothing inside a
    ``RandomChoice`` is visited: its transforms run only sometimes."""
    for transform in getattr(pipeline, 'transforms', pipeline) or []:
        yield transform
        yield from iter_transforms(getattr(transform, 'pre_transform', None))


def replace_built_transforms(pipeline: Any, kind: type,
                             make: Callable[[Any], Any]) -> int:
    """In a built pipeline, replace every transform of exactly the class ``kind`` by
    ``make(transform)``, wherever it stands (a mix transform's ``pre_transform``,
    every branch of a ``RandomChoice``); how many were replaced."""
    replaced = 0
    transforms = getattr(pipeline, 'transforms', pipeline)
    if isinstance(transforms, list):
        for index, transform in enumerate(transforms):
            if type(transform) is kind:
                transforms[index] = make(transform)
                replaced += 1
            else:
                replaced += replace_built_transforms(transform, kind, make)
    pre_transform = getattr(pipeline, 'pre_transform', None)
    if pre_transform is not None:
        replaced += replace_built_transforms(pre_transform, kind, make)
    return replaced
