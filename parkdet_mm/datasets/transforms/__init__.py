from .affine import YOLOv5RandomAffineWarp
from .loading import LoadImageFromFileOrCache
from .weighted_mixup import WeightedMixUp
from .weighted_mosaic import WeightedMosaic

__all__ = [
    'LoadImageFromFileOrCache', 'WeightedMixUp', 'WeightedMosaic',
    'YOLOv5RandomAffineWarp'
]
