from .affine import YOLOv5RandomAffineWarp
from .loading import LoadImageFromFileOrCache
from .weighted_mosaic import WeightedMosaic

__all__ = ['LoadImageFromFileOrCache', 'WeightedMosaic', 'YOLOv5RandomAffineWarp']
