from . import backbones  # noqa: F401  (registers modules)
from .backbones import YOLOv5V50CSPDarknet

__all__ = ['YOLOv5V50CSPDarknet']
