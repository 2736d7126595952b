from . import transforms  # noqa: F401  (registers WeightedMosaic)
from .epoch_part_sampler import EpochPartSampler, MosaicIndex
from .image_weights import class_count_matrix, expected_class_share, image_weights

__all__ = [
    'EpochPartSampler', 'MosaicIndex', 'class_count_matrix', 'expected_class_share',
    'image_weights'
]
