"""Configs as the tools read them: primaries stated once, everything else derived.

:func:`load_config` reads a config file, applies ``--cfg-options`` and the tools'
flags, sets every value derived from the primaries (:mod:`.derivation`: what follows
what; :mod:`.deriving`: putting it into a config) and checks the primaries
(:mod:`.primaries`). :class:`~parkdet_mm.engine.DerivingRunner` does the same for a
config handed to ``RUNNERS.build`` (MMYOLO's own ``tools/train.py``), and
:func:`derived` for a config file itself, so that a plain ``Config.fromfile`` of the
project's configs gives the run's values. :func:`training_size` is the one rule of
the training size, which the derivation gives every reader.
"""
from .data_classes import CLASSES_FILE, classes_of_data
from .derivation import PRIMARIES, default_work_dir, derived_values
from .deriving import RECORD_KEY, derive_config, derived
from .finished_runs import FINISHED_RUN_FILE, read_finished_run, write_finished_run
from .formatted_once import FormattedOnceConfig
from .loading import (
                      final_checkpoint,
                      final_checkpoint_of,
                      finish_config,
                      finished_checkpoint,
                      finished_run_in,
                      is_finished,
                      last_finished_stage,
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
from .training_size import TrainingSize, config_training_size, training_size

__all__ = [
    'CLASSES_FILE', 'classes_of_data', 'PRIMARIES', 'default_work_dir',
    'derived_values', 'RECORD_KEY', 'derive_config', 'derived', 'FINISHED_RUN_FILE',
    'read_finished_run', 'write_finished_run', 'final_checkpoint',
    'final_checkpoint_of', 'finish_config', 'finished_checkpoint', 'finished_run_in',
    'FormattedOnceConfig', 'is_finished', 'last_finished_stage', 'load_config', 'read_config',
    'PRIMARY_CHECKS', 'YOLOV5_HYPS', 'YOLOV5_HYPS_WITHOUT_COUNTERPART',
    'check_primaries', 'read_hyp_file', 'TrainingSize', 'config_training_size',
    'training_size'
]
