"""A Runner for configs whose derived values are ``${...}`` formulas."""
from mmengine.runner import Runner

from mmyolo.registry import RUNNERS
from parkdet_mm.config import finish_config


@RUNNERS.register_module()
class FormulaRunner(Runner):
    """MMEngine's :class:`Runner`, whose :meth:`from_cfg` first evaluates the config's
    formulas and checks its primaries (:func:`parkdet_mm.config.finish_config`).

    The configs name it (``runner_type = 'FormulaRunner'``), so that a config handed
    to ``RUNNERS.build`` (MMYOLO's and MMDetection's ``tools/train.py`` and
    ``tools/test.py``) derives every value from the primaries after its
    ``--cfg-options``, as this project's tools do. A finished config passes through
    unchanged. The config dumped into the work dir holds the final values.
    """

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        return super().from_cfg(finish_config(cfg))
