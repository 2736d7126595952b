"""Model converters: weights of other code bases into this project's models."""
from .yolov5_checkpoint import convert_yolov5_checkpoint
from .yolov5_pickle import looks_like_yolov5_checkpoint

__all__ = ['convert_yolov5_checkpoint', 'looks_like_yolov5_checkpoint']
