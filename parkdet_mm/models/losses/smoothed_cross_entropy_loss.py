"""MMDetection's sigmoid cross-entropy on YOLOv5's label-smoothed targets."""
from mmdet.models.losses import CrossEntropyLoss
from torch import Tensor

from mmyolo.registry import MODELS


@MODELS.register_module()
class SmoothedCrossEntropyLoss(CrossEntropyLoss):
    """:class:`mmdet.models.losses.CrossEntropyLoss` (``use_sigmoid=True``) whose
    targets are smoothed as YOLOv5's ``smooth_BCE(eps)``: a positive counts as
    ``1 - 0.5 x eps``, a negative as ``0.5 x eps`` (YOLOv5's ``--label-smoothing``,
    applied by its ComputeLoss to the classification BCE only).

    Args:
        eps: YOLOv5's label smoothing epsilon, 0 to 1.
        **kwargs: Those of MMDetection's ``CrossEntropyLoss``.
    """

    def __init__(self, eps: float, **kwargs) -> None:
        if not kwargs.get('use_sigmoid'):
            raise ValueError('SmoothedCrossEntropyLoss smooths per-class '
                             'targets: it needs use_sigmoid=True')
        super().__init__(**kwargs)
        self.eps = float(eps)

    def forward(self, cls_score: Tensor, label: Tensor, *args, **kwargs) -> Tensor:
        """MMDetection's loss of ``cls_score`` against the 0/1 targets ``label``
        mapped to ``label x (1 - eps) + 0.5 x eps``."""
        smoothed = label * (1.0 - self.eps) + 0.5 * self.eps
        return super().forward(cls_score, smoothed, *args, **kwargs)
