"""The one place the tuning jobs run a checkpoint over a config's test loader."""
from typing import Optional

from mmengine.config import Config

from parkdet_mm.apis import predict_with_checkpoint
from parkdet_mm.apis.predict import Predictions


def predict_set(cfg: Config, checkpoint: str, tta: bool, device: str,
                desc: Optional[str] = None) -> Predictions:
    """``checkpoint``'s predictions (image id -> boxes in original pixels, scores,
    labels) on the images of ``cfg.test_dataloader``, as tools/predict.py makes
    them for one checkpoint (with YOLOv5's TTA when ``tta``)."""
    return predict_with_checkpoint(cfg, checkpoint, tta, device, desc=desc)
