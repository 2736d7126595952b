"""``--slice SIZE [--overlap R]`` of tools/test.py, tools/predict.py and tools/detect.py:
the config's model run as a :class:`~parkdet_mm.models.tta.SlicedInferenceModel`."""
import argparse

from mmengine.config import Config

from parkdet_challenge.errors import InputError


def add_slice_args(parser: argparse.ArgumentParser) -> None:
    """``--slice SIZE`` and ``--overlap R``."""
    parser.add_argument(
        '--slice', type=int, metavar='SIZE',
        help='sliced inference for small objects: also run the model on '
        'SIZE x SIZE tiles of each original image (the SAHI library\'s slicing), '
        'merged with the whole image\'s boxes by the NMS')
    parser.add_argument('--overlap', type=float, default=0.2, metavar='R',
                        help='with --slice: how much neighbouring tiles overlap (0.2)')


def enable_sliced_inference(cfg: Config, slice_size: int, overlap: float,
                            tta: bool) -> None:
    """Make ``cfg.tta_model`` the sliced model (around the config's own TTA model
    when ``tta``), so that a tool building its model with TTA builds it sliced."""
    if slice_size < 32:
        raise InputError(f'--slice {slice_size}: tiles of at least 32 pixels')
    if not 0 <= overlap < 1:
        raise InputError(f'--overlap {overlap}: from 0 to below 1')
    try:
        import sahi.slicing  # noqa: F401
    except ImportError:
        raise InputError('--slice needs the SAHI library: pip install --no-deps '
                         '-r requirements-nodeps.txt') from None
    cfg.tta_model = dict(type='SlicedInferenceModel', slice_size=slice_size,
                         overlap_ratio=overlap,
                         test_pipeline=cfg.test_dataloader.dataset.pipeline,
                         tta_model=cfg.tta_model if tta else None)
