from . import backbones, dense_heads, tta  # noqa: F401  (registers modules)
from .backbones import YOLOv5V50CSPDarknet
from .dense_heads import YOLOv5GainHead

__all__ = ['YOLOv5V50CSPDarknet', 'YOLOv5GainHead']
