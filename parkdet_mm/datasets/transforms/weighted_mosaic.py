"""MMYOLO's Mosaic with partner tiles drawn by the image weights (docs/reference.md section 7)."""
from typing import List, Optional, Sequence

from mmyolo.datasets.transforms import Mosaic
from mmyolo.registry import TRANSFORMS


@TRANSFORMS.register_module()
class WeightedMosaic(Mosaic):
    """:class:`mmyolo.datasets.transforms.Mosaic` whose three partner tiles are the
    ones the sampler drew with the sample.

    With image weights on, :class:`~parkdet_mm.datasets.EpochPartSampler` yields
    each index as a :class:`~parkdet_mm.datasets.MosaicIndex` whose ``partners``
    were drawn by the same weights; the dataset passes it on as ``sample_idx``, and
    this transform puts those images in the other three tiles, so all four tiles of
    every mosaic are class-balanced, as in the reference. Without partners (image
    weights off, or a sampler that yields plain ints) it is MMYOLO's Mosaic: the
    partners are drawn uniformly. If a partner fails to load (the pre-transform
    returns None), MMYOLO's retry draws uniform replacements.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._partners: Optional[Sequence[int]] = None

    def transform(self, results: dict) -> dict:
        self._partners = getattr(results.get('sample_idx'), 'partners', None)
        try:
            return super().transform(results)
        finally:
            self._partners = None

    def get_indexes(self, dataset) -> List[int]:
        """The sampler's partners the first time for a sample, else uniform."""
        partners, self._partners = self._partners, None
        if partners is not None and len(partners) == 3 and not self.use_cached:
            return list(partners)
        return super().get_indexes(dataset)
