"""Training images loaded from the cache or their files, unreadable ones skipped: the
loading transforms made so, the cache built, before the dataloader workers start;
skipped images reported after every epoch."""
import logging
from typing import Iterator, List, Optional, Tuple

from mmcv.transforms import LoadImageFromFile
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmyolo.registry import HOOKS
from parkdet_challenge.errors import InputError
from parkdet_mm.datasets.image_cache import CACHE_MODES, ImageCache
from parkdet_mm.datasets.pipelines import iter_transforms, replace_built_transforms
from parkdet_mm.datasets.transforms import LoadImageFromFileOrCache


def _leaf_datasets(dataset) -> Iterator:
    """``dataset`` itself, or the datasets a Concat/Repeat-style wrapper holds."""
    if hasattr(dataset, 'datasets'):
        for inner in dataset.datasets:
            yield from _leaf_datasets(inner)
    elif hasattr(dataset, 'dataset'):
        yield from _leaf_datasets(dataset.dataset)
    else:
        yield dataset


def loading_transforms(dataset) -> List[LoadImageFromFileOrCache]:
    """The :class:`LoadImageFromFileOrCache` transforms of ``dataset``'s pipeline
    that always run (not those inside a ``RandomChoice``)."""
    return [
        t for t in iter_transforms(getattr(dataset, 'pipeline', None))
        if isinstance(t, LoadImageFromFileOrCache)
    ]


def make_loading_cache_aware(dataset) -> int:
    """Replace every mmcv ``LoadImageFromFile`` of ``dataset``'s built pipeline by a
    :class:`LoadImageFromFileOrCache` with the same arguments, which reads from the
    image cache when one is attached and skips unreadable images; how many.

    The configs name MMCV's ``LoadImageFromFile``, the transform OpenMMLab's tools
    look for (MMDetection's ``get_loading_pipeline`` keeps that exact class), and
    training runs this one, which decodes the same pixels."""
    def swap(load: LoadImageFromFile) -> LoadImageFromFileOrCache:
        return LoadImageFromFileOrCache(
            to_float32=load.to_float32, color_type=load.color_type,
            imdecode_backend=load.imdecode_backend, ignore_empty=load.ignore_empty,
            backend_args=load.backend_args)
    return replace_built_transforms(getattr(dataset, 'pipeline', None),
                                    LoadImageFromFile, swap)


def attach_image_cache(dataset, mode: str,
                       scale: Optional[Tuple[int, int]]) -> ImageCache:
    """Build the image cache (``mode`` 'ram' or 'disk') of ``dataset``'s images and
    attach it to its pipeline's loading transforms (made cache-aware first). The
    images are kept at the size they are first resized to, ``scale`` (w, h: a
    mosaic's ``img_scale``; see :class:`ImageCacheHook`), or at their file's size
    (None).

    Distributed, rank 0 writes a disk cache first and the other ranks then find it
    current; each rank builds its own RAM cache, as YOLOv5's ranks do.
    """
    make_loading_cache_aware(dataset)
    transforms = loading_transforms(dataset)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    paths = [info['img_path'] for info in infos]
    sizes = [(info['width'], info['height']) for info in infos]
    is_writer = mode == 'ram' or get_rank() == 0
    if not is_writer:
        barrier()  # rank 0 writes the arrays first
    cache = ImageCache.build(mode, paths, sizes, scale,
                             transforms[0].read_image, progress=is_writer)
    if mode == 'disk' and is_writer:
        barrier()
    print_log(f'image cache ({mode}): {len(cache)} of {len(paths)} training '
              'images cached', logger='current')
    for transform in transforms:
        transform.image_cache = cache
    return cache


@HOOKS.register_module()
class ImageCacheHook(Hook):
    """The training images' loading: YOLOv5's ``--cache`` (``cache='ram'`` or
    ``'disk'``: decode them once; None: read every image from its file) and the
    skipping of images that have become unreadable.

    At ``before_train``, in the main process and before the dataloader's workers
    start, it makes the training pipeline's loading transforms
    :class:`~parkdet_mm.datasets.transforms.LoadImageFromFileOrCache`
    (:func:`make_loading_cache_aware`) and, with a cache, builds an
    :class:`~parkdet_mm.datasets.ImageCache` of the training set's images at
    ``scale`` and attaches it to them (:func:`attach_image_cache`).
    Workers fork after that and share the RAM cache's pages (mmengine's default
    ``mp_start_method='fork'``; ``ram`` refuses another start method).

    After every training epoch it logs how many unreadable images the loading
    transforms skipped (the warnings before it name them), when there were any.

    Args:
        cache (str, optional): ``'ram'``, ``'disk'`` or None (no cache).
            Defaults to None.
        scale (tuple, optional): The (w, h) every training image is resized to
            first, which the cache keeps it at: the mosaic's ``img_scale`` when
            every sample is a mosaic (the recipe derives it from ``img_scale``
            and ``mosaic_prob``: :func:`parkdet_mm.config.training_size`); None
            keeps the images at their file's size, right for any pipeline.
            Defaults to None.
    """

    def __init__(self, cache: Optional[str] = None,
                 scale: Optional[Tuple[int, int]] = None) -> None:
        if cache is not None and cache not in CACHE_MODES:
            raise InputError(f'image cache must be one of {CACHE_MODES} or None, '
                             f'not {cache!r}')
        self.cache = cache
        self.scale = None if scale is None else tuple(scale)
        self._skipped_before = 0

    def before_train(self, runner: Runner) -> None:
        for dataset in _leaf_datasets(runner.train_dataloader.dataset):
            make_loading_cache_aware(dataset)
        if self.cache is None:
            return
        datasets = [
            d for d in _leaf_datasets(runner.train_dataloader.dataset)
            if loading_transforms(d)
        ]
        if not datasets:
            raise InputError(
                f'--cache {self.cache} needs an image loading transform '
                '(LoadImageFromFile) in the training pipeline, which has none')
        if self.cache == 'ram' and runner.train_dataloader.num_workers > 0:
            import torch.multiprocessing as mp
            if mp.get_start_method(allow_none=True) not in (None, 'fork'):
                raise InputError(
                    '--cache ram shares memory with fork-started dataloader '
                    'workers; set env_cfg.mp_cfg.mp_start_method=fork')
        for dataset in datasets:
            attach_image_cache(dataset, self.cache, self.scale)

    def after_train_epoch(self, runner: Runner) -> None:
        skipped = sum(
            t.skipped for d in _leaf_datasets(runner.train_dataloader.dataset)
            for t in loading_transforms(d))
        if skipped > self._skipped_before:
            print_log(
                f'epoch {runner.epoch + 1}: skipped '
                f'{skipped - self._skipped_before} unreadable training image '
                f'draw(s), {skipped} in all (named in the warnings above)',
                logger='current', level=logging.WARNING)
        self._skipped_before = skipped
