from .yolov5_multi_scale import YOLOv5MultiScale

__all__ = ['YOLOv5MultiScale']
