from .yolov5_gain_head import YOLOv5GainHead

__all__ = ['YOLOv5GainHead']
