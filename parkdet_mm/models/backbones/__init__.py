from .yolov5_v50_csp_darknet import YOLOv5V50CSPDarknet

__all__ = ['YOLOv5V50CSPDarknet']
