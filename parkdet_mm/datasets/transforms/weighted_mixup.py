"""MMYOLO's YOLOv5MixUp with its second mosaic's tiles drawn by the image weights."""
from typing import Optional

from mmyolo.datasets.transforms import YOLOv5MixUp
from mmyolo.registry import TRANSFORMS

from ..epoch_part_sampler import MosaicIndex


@TRANSFORMS.register_module()
class WeightedMixUp(YOLOv5MixUp):
    """YOLOv5's MixUp: with probability ``prob``, a second mosaic (its
    ``pre_transform``: loading, :class:`WeightedMosaic`, the affine) blended in
    with a ratio r ~ Beta(alpha, beta), ``(img * r + img2 * (1 - r))`` cast to
    uint8, and the two box lists concatenated. That is MMYOLO's
    :class:`~mmyolo.datasets.transforms.YOLOv5MixUp` unchanged (it matches YOLOv5's
    ``mixup()`` as its ``__getitem__`` calls it, tested); this subclass only
    chooses the second mosaic's tiles as YOLOv5 did.

    YOLOv5 starts the second mosaic at a uniformly drawn image and takes its three
    partner tiles from the epoch's (image-weighted) index list. With image weights
    on, :class:`~parkdet_mm.datasets.EpochPartSampler` draws those partners with
    each sample (``MosaicIndex.mixup_partners``); they are handed to the second
    mosaic's :class:`~parkdet_mm.datasets.transforms.WeightedMosaic` in its
    ``sample_idx``, as the sampler hands the first mosaic its own. Without them
    (image weights off), the partners are uniform, as MMYOLO draws them.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._partners: Optional[tuple] = None

    def transform(self, results: dict) -> dict:
        partners = getattr(results.get('sample_idx'), 'mixup_partners', None)
        self._partners = partners or None
        try:
            return super().transform(results)
        finally:
            self._partners = None

    def get_indexes(self, dataset) -> int:
        """The second mosaic's first image, uniform (YOLOv5's ``randint``); the
        first time for a sample, carrying the sampler's partners for its tiles."""
        index = super().get_indexes(dataset)
        partners, self._partners = self._partners, None
        if partners is not None and not self.use_cached:
            # get_data_info stores it as the sample_idx WeightedMosaic reads
            return MosaicIndex(int(index), partners)
        return index
