"""The one place the tuning jobs run a checkpoint over a config's test loader."""
from mmengine.config import Config
from mmengine.runner import Runner

from parkdet_mm.apis import YOLOv5Inferencer
from parkdet_mm.apis.inferencer import Predictions


def predict_set(cfg: Config, checkpoint: str, tta: bool, device: str) -> Predictions:
    """``checkpoint``'s predictions (image id -> boxes in original pixels, scores,
    labels) on the images of ``cfg.test_dataloader``, as tools/predict.py makes
    them for one checkpoint (with YOLOv5's TTA when ``tta``)."""
    inferencer = YOLOv5Inferencer(cfg, [checkpoint], tta=tta, device=device)
    return inferencer.predict_loader(Runner.build_dataloader(cfg.test_dataloader))
