"""YOLOv5's test-time augmentation as an MMDetection ``TestTimeAug`` pipeline."""
from typing import List, Sequence


def yolov5_tta_pipeline(img_size: int,
                        scale_factors: Sequence[float] = (1.0, 0.83, 0.67),
                        flips: Sequence[bool] = (False, True, False),
                        stride: int = 64) -> List[dict]:
    """The pipeline of YOLOv5's ``--augment``: one view per (scale, flip) pair.

    As YOLOv5 does, each scaled size is rounded to a multiple of ``stride``, and only
    the pairs given are made (YOLOv5: the middle scale flipped), not every
    combination. ``mmdet.DetTTAModel`` undoes the resize and flip and merges the
    views with NMS.
    """
    views = []
    for factor, flip in zip(scale_factors, flips):
        size = max(stride, int(round(img_size * factor / stride)) * stride)
        views.append(
            dict(
                type='Compose',
                transforms=[
                    dict(type='YOLOv5KeepRatioResize', scale=(size, size)),
                    dict(
                        type='LetterResize',
                        scale=(size, size),
                        allow_scale_up=False,
                        pad_val=dict(img=114)),
                    dict(type='mmdet.RandomFlip', prob=1.0 if flip else 0.0),
                ]))
    return [
        dict(type='LoadImageFromFile', backend_args=None),
        dict(
            type='TestTimeAug',
            transforms=[
                views,
                [dict(type='mmdet.LoadAnnotations', with_bbox=True)],
                [
                    dict(
                        type='mmdet.PackDetInputs',
                        meta_keys=('img_id', 'img_path', 'ori_shape',
                                   'img_shape', 'scale_factor', 'pad_param',
                                   'flip', 'flip_direction'))
                ],
            ])
    ]
