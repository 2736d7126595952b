from . import transforms  # noqa: F401  (registers WeightedMosaic, WeightedMixUp)
from .batch_share_sampler import BatchShareSampler, BatchShareShapePolicy
from .epoch_part_sampler import EpochPartSampler, MosaicIndex
from .image_cache import ImageCache
from .image_weights import class_count_matrix, expected_class_share, image_weights
from .pseudo_label_dataset import YOLOv5PseudoLabelCocoDataset
from .single_class import SingleClassCocoDataset, merge_into_one_class

__all__ = [
    'BatchShareSampler', 'BatchShareShapePolicy', 'EpochPartSampler',
    'ImageCache', 'MosaicIndex', 'SingleClassCocoDataset', 'class_count_matrix',
    'expected_class_share', 'image_weights', 'merge_into_one_class',
    'YOLOv5PseudoLabelCocoDataset'
]
