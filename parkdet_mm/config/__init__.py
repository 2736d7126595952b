"""Configs as the tools read them: primaries stated once, ``${...}`` formulas derived.

:func:`load_config` reads a config file, applies ``--cfg-options`` and the tools'
flags, evaluates every formula (:mod:`.formulas`) and checks the primaries
(:mod:`.primaries`). :class:`~parkdet_mm.engine.FormulaRunner` does the same for a
config handed to ``RUNNERS.build`` (MMYOLO's own ``tools/train.py``).
"""
from .data_classes import CLASSES_FILE, classes_of_data
from .formulas import find_formulas, formula_function, is_formula, resolve
from .loading import (
                      default_work_dir,
                      final_checkpoint,
                      final_checkpoint_of,
                      finish_config,
                      load_config,
                      read_config,
)
from .primaries import (
                      PRIMARY_CHECKS,
                      YOLOV5_HYPS,
                      YOLOV5_HYPS_WITHOUT_COUNTERPART,
                      check_primaries,
                      read_hyp_file,
)

__all__ = [
    'CLASSES_FILE', 'classes_of_data',
    'find_formulas', 'formula_function', 'is_formula', 'resolve',
    'default_work_dir', 'final_checkpoint', 'final_checkpoint_of',
    'finish_config', 'load_config', 'read_config', 'PRIMARY_CHECKS',
    'YOLOV5_HYPS', 'YOLOV5_HYPS_WITHOUT_COUNTERPART', 'check_primaries',
    'read_hyp_file'
]
