from .affine import YOLOv5RandomAffineWarp
from .loading import LoadImageFromFileOrCache
from .one_warp_mosaic import WeightedMosaicOneWarp
from .weighted_mixup import WeightedMixUp
from .weighted_mosaic import WeightedMosaic

__all__ = [
    'LoadImageFromFileOrCache', 'WeightedMixUp', 'WeightedMosaic',
    'WeightedMosaicOneWarp', 'YOLOv5RandomAffineWarp'
]
