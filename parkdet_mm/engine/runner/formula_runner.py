"""A Runner for configs whose derived values are ``${...}`` formulas."""
import os

import torch
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

    Its environment also takes ``env_cfg.cudnn_deterministic`` (cuDNN's
    deterministic algorithms, what YOLOv5's ``init_seeds(0)`` sets), and with
    ``randomness.deterministic`` it sets ``CUBLAS_WORKSPACE_CONFIG``, which cuBLAS
    needs for deterministic results.
    """

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        return super().from_cfg(finish_config(cfg))

    def setup_env(self, env_cfg: dict) -> None:
        super().setup_env(env_cfg)
        torch.backends.cudnn.deterministic = bool(
            env_cfg.get('cudnn_deterministic', False))

    def set_randomness(self, seed, diff_rank_seed: bool = False,
                       deterministic: bool = False) -> None:
        if deterministic:
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        super().set_randomness(seed, diff_rank_seed, deterministic)
