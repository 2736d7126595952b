from .predict import (check_checkpoint_fits, check_test_images, fuse_models,
                      gather_predictions, load_detector, predict_with_checkpoint,
                      prepare_predict_config)

__all__ = [
    'check_checkpoint_fits', 'check_test_images', 'fuse_models',
    'gather_predictions', 'load_detector',
    'predict_with_checkpoint', 'prepare_predict_config'
]
