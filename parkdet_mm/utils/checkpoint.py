"""Load mmengine checkpoints with torch's ``weights_only=True`` kept on.

torch >= 2.6 unpickles checkpoints with ``weights_only=True``: only tensors, containers
and an allow-list of classes may appear. mmengine's checkpoints also hold its
``HistoryBuffer`` (the message hub's logged scalars) and numpy arrays, scalars and
dtypes, so ``resume``, ``load_from`` and testing fail out of the box. Rather than
switch the safety off, :func:`allow_mmengine_checkpoints` adds exactly those classes to
torch's allow-list, and :func:`load_local_checkpoint` (registered as mmengine's loader
for local paths) turns a refusal into one clear :class:`UnsafeCheckpointError`.

The same loader recognises an ultralytics YOLOv5 checkpoint (``.pt``, which holds
pickled YOLOv5 modules) and converts it in memory with
:func:`~parkdet_mm.utils.yolov5_checkpoint.convert_yolov5_checkpoint`, so
``load_from``, ``tools/test.py`` and ``tools/predict.py`` take it directly.
"""
import pickle
import re
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from parkdet_challenge.cli import InputError
from .yolov5_checkpoint import (convert_yolov5_checkpoint,
                                looks_like_yolov5_checkpoint)


class UnsafeCheckpointError(InputError):
    """A checkpoint holds a class that is not on the allow-list."""


def _history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stands in for ``getattr`` while unpickling, for HistoryBuffer alone.

    A pickled ``HistoryBuffer`` keeps its statistics methods as
    ``getattr(HistoryBuffer, 'mean')`` and so on. A general ``getattr`` would reach
    any attribute of any allowed class (``ndarray.tofile`` writes files), so only
    those methods are handed out.
    """
    # The built-in four are registered lazily by the first HistoryBuffer() call.
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL getattr({owner!r}, {name!r})')


def mmengine_checkpoint_globals() -> List[Any]:
    """The classes and functions an mmengine checkpoint may hold besides tensors."""
    # Numeric and bool dtypes only: object arrays would smuggle arbitrary pickles.
    codes = np.typecodes['AllInteger'] + np.typecodes['AllFloat'] + '?'
    numpy_dtypes = {type(np.dtype(code)) for code in codes}
    return [
        HistoryBuffer,
        # torch.save pickles with protocol 2, hence the Python 2 module name.
        (_history_buffer_statistic, '__builtin__.getattr'),
        (_history_buffer_statistic, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        *sorted(numpy_dtypes, key=lambda cls: cls.__name__),
    ]


def allow_mmengine_checkpoints() -> None:
    """Add mmengine's checkpoint classes to torch's ``weights_only`` allow-list."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True``.

    A YOLOv5 checkpoint is converted to MMYOLO's layout instead (its ``ema``
    weights when it has them), nothing from it executed.

    Raises:
        UnsafeCheckpointError: the file holds an object outside the allow-list.
        YOLOv5CheckpointError: a YOLOv5 checkpoint that cannot be mapped.
    """
    if looks_like_yolov5_checkpoint(filename):
        return convert_yolov5_checkpoint(filename)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL (.*?)(?: was not an allowed|$)', str(err),
                          re.MULTILINE)
        what = found.group(1) if found else 'an object'
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: it holds {what}, which is '
            'not on the allow-list of what mmengine checkpoints contain '
            '(torch weights_only=True)') from None


CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                 force=True)
allow_mmengine_checkpoints()
