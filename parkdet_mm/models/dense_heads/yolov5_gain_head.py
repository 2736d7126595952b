"""MMYOLO's YOLOv5 head configured with YOLOv5's own loss gains."""
from mmyolo.models.dense_heads import YOLOv5Head
from mmyolo.registry import MODELS


@MODELS.register_module()
class YOLOv5GainHead(YOLOv5Head):
    """:class:`YOLOv5Head` whose loss weights are a YOLOv5 hyperparameter file's
    gains, scaled as YOLOv5's ``train.py`` scales them.

    YOLOv5 multiplies the gains by the model and the data: box by ``3 / nl``, cls by
    ``nc / 80 * 3 / nl``, obj by ``(imgsz / 640) ** 2 * 3 / nl`` (``nl`` detection
    levels, ``nc`` classes, ``imgsz`` the training size). The head does it here, once,
    so that a config states the raw gains and a change of classes, levels or image
    size rescales them. ``cls_pw`` and ``obj_pw`` become the BCE losses' positive
    weights (mmdet's sigmoid cross-entropy passes ``class_weight`` to BCE as
    ``pos_weight``, as YOLOv5's ``BCEWithLogitsLoss(pos_weight=...)``).

    Args:
        head_module: As :class:`YOLOv5Head`; its ``num_classes`` and
            ``featmap_strides`` give ``nc`` and ``nl``.
        box, cls, obj: YOLOv5's ``box``, ``cls`` and ``obj`` gains.
        cls_pw, obj_pw: YOLOv5's ``cls_pw`` and ``obj_pw``.
        train_img_size: YOLOv5's ``imgsz``: the training image size (the longer
            side of ``img_scale``).
        loss_cls, loss_bbox, loss_obj: The losses as :class:`YOLOv5Head` takes
            them, without ``loss_weight`` (and ``class_weight``), which this head
            sets.
        **kwargs: The rest of :class:`YOLOv5Head`'s arguments.
    """

    def __init__(self, head_module: dict, box: float, cls: float, obj: float,
                 cls_pw: float, obj_pw: float, train_img_size: int,
                 loss_cls: dict, loss_bbox: dict, loss_obj: dict, **kwargs):
        num_classes = head_module['num_classes']
        num_levels = len(head_module['featmap_strides'])
        super().__init__(
            head_module,
            loss_cls=dict(
                loss_cls,
                loss_weight=cls * (num_classes / 80 * 3 / num_levels),
                class_weight=[cls_pw] * num_classes),
            loss_bbox=dict(loss_bbox, loss_weight=box * (3 / num_levels)),
            loss_obj=dict(
                loss_obj,
                loss_weight=obj * ((train_img_size / 640)**2 * 3 / num_levels),
                class_weight=[obj_pw]),
            **kwargs)

