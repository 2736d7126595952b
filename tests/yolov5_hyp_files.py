"""Every hyperparameter file YOLOv5 shipped from v5.0 to v7.0, as its keys and values.

``data/hyp.*.yaml`` (v5.0) and ``data/hyps/*.yaml`` (v6.0 to v7.0) at each release's
git tag of github.com/ultralytics/yolov5, and ``hyp.no-augmentation.yaml``, which
came after the v7.0 tag and ships in PyPI's ``yolov5`` 7.0.x (read from 7.0.14's
wheel). The values are YOLOv5's, in its order; its comments are left out. The tests
write them back to YAML files and train with each.
"""

# (release, path in the release) -> the file's keys and values
YOLOV5_HYP_FILES = {
    ('v5.0', 'data/hyp.finetune.yaml'): dict(
        lr0=0.0032, lrf=0.12, momentum=0.843, weight_decay=0.00036, warmup_epochs=2.0,
        warmup_momentum=0.5, warmup_bias_lr=0.05, box=0.0296, cls=0.243, cls_pw=0.631,
        obj=0.301, obj_pw=0.911, iou_t=0.2, anchor_t=2.91, fl_gamma=0.0, hsv_h=0.0138,
        hsv_s=0.664, hsv_v=0.464, degrees=0.373, translate=0.245, scale=0.898,
        shear=0.602, perspective=0.0, flipud=0.00856, fliplr=0.5, mosaic=1.0,
        mixup=0.243),
    ('v5.0', 'data/hyp.scratch.yaml'): dict(
        lr0=0.01, lrf=0.2, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0),
    ('v6.0', 'data/hyps/hyp.finetune.yaml'): dict(
        lr0=0.0032, lrf=0.12, momentum=0.843, weight_decay=0.00036, warmup_epochs=2.0,
        warmup_momentum=0.5, warmup_bias_lr=0.05, box=0.0296, cls=0.243, cls_pw=0.631,
        obj=0.301, obj_pw=0.911, iou_t=0.2, anchor_t=2.91, fl_gamma=0.0, hsv_h=0.0138,
        hsv_s=0.664, hsv_v=0.464, degrees=0.373, translate=0.245, scale=0.898,
        shear=0.602, perspective=0.0, flipud=0.00856, fliplr=0.5, mosaic=1.0,
        mixup=0.243, copy_paste=0.0),
    ('v6.0', 'data/hyps/hyp.finetune_objects365.yaml'): dict(
        lr0=0.00258, lrf=0.17, momentum=0.779, weight_decay=0.00058, warmup_epochs=1.33,
        warmup_momentum=0.86, warmup_bias_lr=0.0711, box=0.0539, cls=0.299,
        cls_pw=0.825, obj=0.632, obj_pw=1.0, iou_t=0.2, anchor_t=3.44, anchors=3.2,
        fl_gamma=0.0, hsv_h=0.0188, hsv_s=0.704, hsv_v=0.36, degrees=0.0,
        translate=0.0902, scale=0.491, shear=0.0, perspective=0.0, flipud=0.0,
        fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.0', 'data/hyps/hyp.scratch-high.yaml'): dict(
        lr0=0.01, lrf=0.2, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.1),
    ('v6.0', 'data/hyps/hyp.scratch-low.yaml'): dict(
        lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.0', 'data/hyps/hyp.scratch.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.1', 'data/hyps/hyp.Objects365.yaml'): dict(
        lr0=0.00258, lrf=0.17, momentum=0.779, weight_decay=0.00058, warmup_epochs=1.33,
        warmup_momentum=0.86, warmup_bias_lr=0.0711, box=0.0539, cls=0.299,
        cls_pw=0.825, obj=0.632, obj_pw=1.0, iou_t=0.2, anchor_t=3.44, anchors=3.2,
        fl_gamma=0.0, hsv_h=0.0188, hsv_s=0.704, hsv_v=0.36, degrees=0.0,
        translate=0.0902, scale=0.491, shear=0.0, perspective=0.0, flipud=0.0,
        fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.1', 'data/hyps/hyp.VOC.yaml'): dict(
        lr0=0.0033, lrf=0.15184, momentum=0.74747, weight_decay=0.00025,
        warmup_epochs=3.4278, warmup_momentum=0.59032, warmup_bias_lr=0.18742, box=0.02,
        cls=0.21563, cls_pw=0.5, obj=0.50843, obj_pw=0.6729, iou_t=0.2, anchor_t=3.4172,
        fl_gamma=0.0, hsv_h=0.01032, hsv_s=0.5562, hsv_v=0.28255, degrees=0.0,
        translate=0.04575, scale=0.73711, shear=0.0, perspective=0.0, flipud=0.0,
        fliplr=0.5, mosaic=0.87158, mixup=0.04294, copy_paste=0.0, anchors=3.3556),
    ('v6.1', 'data/hyps/hyp.scratch-high.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.1),
    ('v6.1', 'data/hyps/hyp.scratch-low.yaml'): dict(
        lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.1', 'data/hyps/hyp.scratch-med.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.0),
    ('v6.2', 'data/hyps/hyp.Objects365.yaml'): dict(
        lr0=0.00258, lrf=0.17, momentum=0.779, weight_decay=0.00058, warmup_epochs=1.33,
        warmup_momentum=0.86, warmup_bias_lr=0.0711, box=0.0539, cls=0.299,
        cls_pw=0.825, obj=0.632, obj_pw=1.0, iou_t=0.2, anchor_t=3.44, anchors=3.2,
        fl_gamma=0.0, hsv_h=0.0188, hsv_s=0.704, hsv_v=0.36, degrees=0.0,
        translate=0.0902, scale=0.491, shear=0.0, perspective=0.0, flipud=0.0,
        fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.2', 'data/hyps/hyp.VOC.yaml'): dict(
        lr0=0.00334, lrf=0.15135, momentum=0.74832, weight_decay=0.00025,
        warmup_epochs=3.3835, warmup_momentum=0.59462, warmup_bias_lr=0.18657, box=0.02,
        cls=0.21638, cls_pw=0.5, obj=0.51728, obj_pw=0.67198, iou_t=0.2,
        anchor_t=3.3744, fl_gamma=0.0, hsv_h=0.01041, hsv_s=0.54703, hsv_v=0.27739,
        degrees=0.0, translate=0.04591, scale=0.75544, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=0.85834, mixup=0.04266, copy_paste=0.0,
        anchors=3.412),
    ('v6.2', 'data/hyps/hyp.scratch-high.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.1),
    ('v6.2', 'data/hyps/hyp.scratch-low.yaml'): dict(
        lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v6.2', 'data/hyps/hyp.scratch-med.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.0),
    ('v7.0', 'data/hyps/hyp.Objects365.yaml'): dict(
        lr0=0.00258, lrf=0.17, momentum=0.779, weight_decay=0.00058, warmup_epochs=1.33,
        warmup_momentum=0.86, warmup_bias_lr=0.0711, box=0.0539, cls=0.299,
        cls_pw=0.825, obj=0.632, obj_pw=1.0, iou_t=0.2, anchor_t=3.44, anchors=3.2,
        fl_gamma=0.0, hsv_h=0.0188, hsv_s=0.704, hsv_v=0.36, degrees=0.0,
        translate=0.0902, scale=0.491, shear=0.0, perspective=0.0, flipud=0.0,
        fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v7.0', 'data/hyps/hyp.VOC.yaml'): dict(
        lr0=0.00334, lrf=0.15135, momentum=0.74832, weight_decay=0.00025,
        warmup_epochs=3.3835, warmup_momentum=0.59462, warmup_bias_lr=0.18657, box=0.02,
        cls=0.21638, cls_pw=0.5, obj=0.51728, obj_pw=0.67198, iou_t=0.2,
        anchor_t=3.3744, fl_gamma=0.0, hsv_h=0.01041, hsv_s=0.54703, hsv_v=0.27739,
        degrees=0.0, translate=0.04591, scale=0.75544, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=0.85834, mixup=0.04266, copy_paste=0.0,
        anchors=3.412),
    ('v7.0', 'data/hyps/hyp.scratch-high.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.1),
    ('v7.0', 'data/hyps/hyp.scratch-low.yaml'): dict(
        lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0, obj=1.0,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0),
    ('v7.0', 'data/hyps/hyp.scratch-med.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015, hsv_s=0.7,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0, perspective=0.0,
        flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.1, copy_paste=0.0),
    ('7.0.14', 'data/hyps/hyp.no-augmentation.yaml'): dict(
        lr0=0.01, lrf=0.1, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0, obj=0.7,
        obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0, hsv_s=0, hsv_v=0,
        degrees=0.0, translate=0, scale=0, shear=0, perspective=0.0, flipud=0.0,
        fliplr=0.0, mosaic=0.0, mixup=0.0, copy_paste=0.0),}


def distinct_hyp_files() -> dict:
    """One (release, path) per distinct content: name -> values."""
    seen, distinct = set(), {}
    for (release, path), values in YOLOV5_HYP_FILES.items():
        key = tuple(sorted(values.items()))
        if key not in seen:
            seen.add(key)
            distinct[f'{release}:{path.split("/")[-1]}'] = values
    return distinct
