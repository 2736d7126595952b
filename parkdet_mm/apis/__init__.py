from .ensemble import ensemble_test_step, predict_nms_ensemble
from .predict import (
                      check_checkpoint_fits,
                      check_test_images,
                      fuse_models,
                      gather_predictions,
                      load_detector,
                      predict_with_checkpoint,
                      share_test_batches,
)

__all__ = [
    'check_checkpoint_fits', 'check_test_images', 'ensemble_test_step',
    'fuse_models', 'predict_nms_ensemble',
    'gather_predictions', 'load_detector',
    'predict_with_checkpoint', 'share_test_batches'
]
