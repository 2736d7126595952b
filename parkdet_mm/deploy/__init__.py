from .backends import BACKENDS, BackendNetwork, check_backend, use_backend
from .onnx_model import ONNXNonMaxSuppression, YOLOv5ONNXModel

__all__ = ['BACKENDS', 'BackendNetwork', 'ONNXNonMaxSuppression', 'YOLOv5ONNXModel',
           'check_backend', 'use_backend']
