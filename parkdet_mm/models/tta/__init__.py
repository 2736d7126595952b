from .sliced_inference_model import SlicedInferenceModel
from .yolov5_tta_model import (
                               DecodedPredictions,
                               YOLOv5TTAModel,
                               cat_predictions,
                               decode_levels,
                               decoded_predictions,
                               nms_predictions,
)

__all__ = [
    'DecodedPredictions', 'SlicedInferenceModel', 'YOLOv5TTAModel', 'cat_predictions',
    'decode_levels', 'decoded_predictions', 'nms_predictions'
]
