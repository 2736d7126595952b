"""Pictures: validation diagnostics, training curves and batches (matplotlib, no
display), detections drawn as YOLOv5 draws them, and the experiment loggers that
receive them."""
from .detections import YOLOv5DetLocalVisualizer, draw_predictions
from .loggers import LOGGERS, logger_backends, send_pictures

__all__ = ['LOGGERS', 'YOLOv5DetLocalVisualizer', 'draw_predictions', 'send_pictures',
           'logger_backends']
