"""Loading a training image from the image cache or its file; unreadable ones skipped."""
import logging
import multiprocessing
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log

from mmyolo.registry import TRANSFORMS

from ..image_cache import ImageCache
from ..png_decoding import decode_png_bgr

PNG_DECODERS = ('spng', 'cv2')


@TRANSFORMS.register_module()
class LoadImageFromFileOrCache(LoadImageFromFile):
    """mmcv's :class:`LoadImageFromFile` that reads from an :class:`ImageCache` when
    one is attached (``image_cache``, set by ``ImageCacheHook``) and skips images
    that cannot be read.

    A cached image comes resized as the pipeline's Mosaic would resize it, so its
    boxes (``instances``, read next by LoadAnnotations) are scaled here by Mosaic's
    ratio, in float32 as Mosaic scales them: the pipeline's output is the same as
    from the file. ``ori_shape`` stays the file's shape. The cached array is
    read-only; the pipeline's transforms all write new arrays.

    An image that cannot be read (missing, truncated, not an image) is logged as a
    warning naming it, counted in :attr:`skipped`, and replaced, like mmengine's
    refetch, by another image drawn at random from ``results['dataset']`` (set by
    MMYOLO's datasets and by Mosaic for its tiles); without a dataset the transform
    returns None and the dataset draws another. After ``max_refetch`` unreadable
    draws in a row it raises.

    PNGs are decoded by libspng (``png_decoder='spng'``, when pyspng is installed
    and the image is read in colour through OpenCV, the defaults): the same pixels
    as OpenCV's, faster; any PNG for which that is not known to hold, and every
    other format, is decoded by OpenCV (:mod:`parkdet_mm.datasets.png_decoding`).
    ``png_decoder='cv2'`` decodes everything with OpenCV.
    """

    def __init__(self, max_refetch: int = 15, png_decoder: str = 'spng',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if png_decoder not in PNG_DECODERS:
            raise ValueError(f'png_decoder must be one of {PNG_DECODERS}, not '
                             f'{png_decoder!r}')
        self.max_refetch = max_refetch
        # libspng only where its pixels are OpenCV's: colour images through cv2
        self.decode_png = (png_decoder == 'spng' and self.color_type == 'color'
                           and self.imdecode_backend == 'cv2')
        self.image_cache: Optional[ImageCache] = None
        # Shared with dataloader workers forked after the dataset was built, so
        # the main process can report what the workers skipped.
        self._skipped = multiprocessing.Value('q', 0)

    @property
    def skipped(self) -> int:
        """How many unreadable images this transform (all its processes) skipped."""
        return self._skipped.value

    def read_image(self, filename: str) -> np.ndarray:
        """Decode ``filename`` as the parent does (before ``to_float32``); raise
        OSError when it cannot."""
        img_bytes = fileio.get(filename, backend_args=self.backend_args)
        img = decode_png_bgr(img_bytes) if self.decode_png else None
        if img is None:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        if img is None:
            raise OSError('cannot be decoded')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        for _ in range(self.max_refetch + 1):
            filename = results['img_path']
            cached = (self.image_cache.get(filename)
                      if self.image_cache is not None else None)
            if cached is not None:
                results['img'] = (cached.img.astype(np.float32)
                                  if self.to_float32 else cached.img)
                results['img_shape'] = cached.img.shape[:2]
                results['ori_shape'] = cached.ori_shape
                if cached.box_scale != 1.0:
                    _scale_instance_boxes(results, cached.box_scale)
                return results
            try:
                img = self.read_image(filename)
            except Exception as err:
                results = self._skip(results, err)
                if results is None:
                    return None
                continue
            results['img'] = img.astype(np.float32) if self.to_float32 else img
            results['img_shape'] = img.shape[:2]
            results['ori_shape'] = img.shape[:2]
            return results
        raise RuntimeError(f'{self.max_refetch + 1} unreadable training images '
                           'in a row; check the data set (tools/prepare_data.py)')

    def _skip(self, results: dict, err: Exception) -> Optional[dict]:
        with self._skipped.get_lock():
            self._skipped.value += 1
        print_log(f'skipped unreadable training image {results["img_path"]} '
                  f'({type(err).__name__}: {err})', logger='current',
                  level=logging.WARNING)
        dataset = results.get('dataset')
        if dataset is None:
            return None
        # numpy's global generator, which Mosaic and mmengine's refetch draw from
        replacement = dataset.get_data_info(np.random.randint(0, len(dataset)))
        replacement['dataset'] = dataset
        return replacement


def _scale_instance_boxes(results: dict, scale: float) -> None:
    """Scale ``instances[*]['bbox']`` by ``scale`` exactly as Mosaic's
    ``rescale_`` does on float32 boxes (float32 product of float32 values)."""
    factor = np.float32(scale)
    for instance in results.get('instances', []):
        box = np.asarray(instance['bbox'], dtype=np.float32) * factor
        instance['bbox'] = box.tolist()
