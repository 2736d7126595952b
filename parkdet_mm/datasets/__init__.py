from .epoch_part_sampler import EpochPartSampler
from .image_weights import class_count_matrix, expected_class_share, image_weights

__all__ = [
    'EpochPartSampler', 'class_count_matrix', 'expected_class_share',
    'image_weights'
]
