from . import backbones, tta  # noqa: F401  (registers modules)
from .backbones import YOLOv5V50CSPDarknet

__all__ = ['YOLOv5V50CSPDarknet']
