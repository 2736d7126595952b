from .onnx_model import ONNXNonMaxSuppression, YOLOv5ONNXModel

__all__ = ['ONNXNonMaxSuppression', 'YOLOv5ONNXModel']
