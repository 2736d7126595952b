from .yolov5_batch_preprocessor import YOLOv5BatchPreprocessor
from .yolov5_multi_scale import YOLOv5MultiScale

__all__ = ['YOLOv5BatchPreprocessor', 'YOLOv5MultiScale']
