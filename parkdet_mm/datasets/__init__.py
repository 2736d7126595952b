from . import transforms  # noqa: F401  (registers WeightedMosaic)
from .batch_share_sampler import BatchShareSampler, BatchShareShapePolicy
from .epoch_part_sampler import EpochPartSampler, MosaicIndex
from .image_cache import ImageCache
from .image_weights import class_count_matrix, expected_class_share, image_weights

__all__ = [
    'BatchShareSampler', 'BatchShareShapePolicy', 'EpochPartSampler',
    'ImageCache', 'MosaicIndex', 'class_count_matrix', 'expected_class_share',
    'image_weights'
]
