from . import backbones, data_preprocessors, dense_heads, losses, tta  # noqa: F401
from .backbones import YOLOv5V50CSPDarknet
from .data_preprocessors import YOLOv5MultiScale
from .dense_heads import YOLOv5GainHead
from .inference_modes import detectors_in, half_precision, keep_classes
from .losses import SmoothedCrossEntropyLoss

__all__ = ['YOLOv5V50CSPDarknet', 'YOLOv5GainHead', 'YOLOv5MultiScale',
           'SmoothedCrossEntropyLoss', 'detectors_in', 'half_precision', 'keep_classes']
