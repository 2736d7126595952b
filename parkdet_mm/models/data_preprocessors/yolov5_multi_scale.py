"""YOLOv5's ``--multi-scale``: every training batch at a random size."""
import math
import random
from typing import Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from mmyolo.registry import MODELS


@MODELS.register_module()
class YOLOv5MultiScale(nn.Module):
    """A batch augment of ``YOLOv5DetDataPreprocessor`` (``batch_augments``) that
    resizes each training batch as YOLOv5 v7.0's train.py does with
    ``--multi-scale``: a size ``sz`` drawn uniformly (Python's ``random``, seeded
    with the run) from ``[0.5 x img_size, 1.5 x img_size + stride)`` and rounded
    down to a multiple of ``stride``; both sides scaled by ``sz / long side`` and
    rounded up to multiples of ``stride``; bilinear, ``align_corners=False``. The
    boxes (pixels here, normalized in YOLOv5) are scaled by each side's ratio, so
    their normalized coordinates stay YOLOv5's.

    Args:
        img_size: YOLOv5's ``imgsz``: the training size (the longer side of
            ``img_scale``).
        stride: The model's largest stride (YOLOv5's ``gs``).
    """

    def __init__(self, img_size: int, stride: int) -> None:
        super().__init__()
        self.img_size = int(img_size)
        self.stride = int(stride)

    def forward(self, inputs: Tensor, data_samples: dict) -> Tuple[Tensor, dict]:
        """Resize ``inputs`` (B, 3, H, W) and scale the boxes of ``data_samples``
        (``bboxes_labels``: rows of [image, label, x1, y1, x2, y2])."""
        gs = self.stride
        size = random.randrange(int(self.img_size * 0.5),
                                int(self.img_size * 1.5) + gs) // gs * gs
        factor = size / max(inputs.shape[2:])
        if factor == 1:
            return inputs, data_samples
        height, width = (math.ceil(x * factor / gs) * gs for x in inputs.shape[2:])
        boxes = data_samples['bboxes_labels'].clone()
        boxes[:, [2, 4]] *= width / inputs.shape[3]
        boxes[:, [3, 5]] *= height / inputs.shape[2]
        inputs = F.interpolate(inputs, size=(height, width), mode='bilinear',
                               align_corners=False)
        return inputs, dict(data_samples, bboxes_labels=boxes)
