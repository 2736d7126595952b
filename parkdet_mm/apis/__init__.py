"""Inference: the inferencer and the routes the tools take through it (predict's
submission, detect's pictures), the shared start-up of the runner tools, and
what the demo reads and writes around its tools (:mod:`.demo_runs`)."""
from .detect import detect_source
from .detector_loading import check_checkpoint_fits, load_detector
from .ensemble import DetectorEnsemble, ensemble_test_step
from .inferencer import Predictions, YOLOv5Inferencer
from .predict import (
                      check_test_images,
                      gather_predictions,
                      predict_from_paths,
                      predict_submission,
                      predict_target,
                      share_test_batches,
)

__all__ = [
    'DetectorEnsemble', 'Predictions', 'YOLOv5Inferencer', 'check_checkpoint_fits',
    'check_test_images', 'detect_source', 'ensemble_test_step', 'gather_predictions',
    'load_detector', 'predict_from_paths', 'predict_submission', 'predict_target',
    'share_test_batches'
]
