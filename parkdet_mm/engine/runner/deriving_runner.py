"""A Runner that derives a config's values from its primaries before it runs."""
import os

import torch
from mmengine.runner import Runner

from mmyolo.registry import RUNNERS
from parkdet_mm.config import FormattedOnceConfig, finish_config, is_finished


@RUNNERS.register_module()
class DerivingRunner(Runner):
    """MMEngine's :class:`Runner`, whose :meth:`from_cfg` first sets every value
    derived from the config's primaries and checks them
    (:func:`parkdet_mm.config.finish_config`).

    The configs name it (``runner_type = 'DerivingRunner'``), so that a config handed
    to ``RUNNERS.build`` (MMYOLO's and MMDetection's ``tools/train.py`` and
    ``tools/test.py``) follows its ``--cfg-options`` as this project's tools do. A
    config the project's tools finished already (:func:`parkdet_mm.config.load_config`)
    is taken as it is, with whatever the tool changed since. The config dumped into
    the work dir holds the final values.

    Its environment also takes ``env_cfg.cudnn_deterministic`` (cuDNN's
    deterministic algorithms, what YOLOv5's ``init_seeds(0)`` sets), and with
    ``randomness.deterministic`` it sets ``CUBLAS_WORKSPACE_CONFIG``, which cuBLAS
    needs for deterministic results.
    """

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        cfg = cfg if is_finished(cfg) else finish_config(cfg)
        # its text (the log, the dumped config, every checkpoint's meta) formatted
        # once: yapf takes about a second each time
        return super().from_cfg(FormattedOnceConfig.of(cfg))

    def setup_env(self, env_cfg: dict) -> None:
        super().setup_env(env_cfg)
        torch.backends.cudnn.deterministic = bool(
            env_cfg.get('cudnn_deterministic', False))

    def set_randomness(self, seed, diff_rank_seed: bool = False,
                       deterministic: bool = False) -> None:
        if deterministic:
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        super().set_randomness(seed, diff_rank_seed, deterministic)
