"""Readers of a built config's hyper-parameters (transforms, head, mosaic) as YOLOv5 names them."""
import pytest
from mmengine.config import Config


def transform(cfg: Config, type_name: str, pipeline=None):
    """The first transform of that type in the training pipeline, in the branches
    of a RandomChoice too; None if there is none."""
    for t in cfg.train_dataloader.dataset.pipeline if pipeline is None else pipeline:
        if t['type'] == type_name:
            return t
        if t['type'] == 'RandomChoice':
            for branch in t['transforms']:
                found = transform(cfg, type_name, branch)
                if found:
                    return found
    return None


def built_head(cfg: Config):
    """The config's detection head as it is built (its loss weights set)."""
    from mmengine.registry import init_default_scope

    import parkdet_mm  # noqa: F401
    from mmyolo.registry import MODELS
    init_default_scope('mmyolo')
    return MODELS.build(cfg.model.bbox_head)


def read_hyps(cfg: Config) -> dict:
    """The YOLOv5 hyper-parameters the built model and the config encode, undoing
    YOLOv5's scaling of the loss gains (at the training size)."""
    img_size = cfg.img_scale[0]
    optimizer = cfg.optim_wrapper.optimizer
    scheduler = cfg.default_hooks.param_scheduler
    head = built_head(cfg)
    nl = len(cfg.model.bbox_head.prior_generator.strides)
    nc = cfg.model.bbox_head.head_module.num_classes
    affine = transform(cfg, 'YOLOv5RandomAffineWarp')
    # left out when all three gains are 0
    hsv = transform(cfg, 'YOLOv5HSVRandomAug') or dict(
        hue_delta=0.0, saturation_delta=0.0, value_delta=0.0)
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    cls_weights = set(head.loss_cls.class_weight)
    assert len(head.loss_cls.class_weight) == nc and len(cls_weights) == 1
    low, high = affine['scaling_ratio_range']
    assert low + high == pytest.approx(2.0)
    return dict(
        lr0=optimizer.lr, lrf=scheduler.lr_factor, momentum=optimizer.momentum,
        weight_decay=optimizer.weight_decay,
        warmup_epochs=scheduler.warmup_epochs,
        warmup_momentum=scheduler.warmup_momentum,
        warmup_bias_lr=scheduler.warmup_bias_lr,
        box=head.loss_bbox.loss_weight / (3 / nl),
        cls=head.loss_cls.loss_weight / (nc / 80 * 3 / nl),
        cls_pw=cls_weights.pop(),
        obj=head.loss_obj.loss_weight / ((img_size / 640)**2 * 3 / nl),
        obj_pw=head.loss_obj.class_weight[0],
        anchor_t=head.prior_match_thr,
        # plain BCE is focal loss with gamma 0
        fl_gamma=0.0 if cfg.model.bbox_head.loss_cls.type.endswith(
            'CrossEntropyLoss') else None,
        hsv_h=hsv['hue_delta'], hsv_s=hsv['saturation_delta'],
        hsv_v=hsv['value_delta'], degrees=affine['max_rotate_degree'],
        translate=affine['max_translate_ratio'], scale=high - 1,
        shear=affine['max_shear_degree'],
        # YOLOv5RandomAffine has no perspective term
        perspective=0.0,
        flipud=flip_prob(cfg, 'vertical'),
        fliplr=flip_prob(cfg, 'horizontal'),
        mosaic=mosaic_prob(cfg),
        mixup=mixup_prob(cfg),
        copy_paste=0.0 if not any('CopyPaste' in t for t in types) else None)


def flip_prob(cfg: Config, direction: str) -> float:
    """The probability of the training pipeline's flip in ``direction`` (0: none)."""
    probs = [t['prob'] for t in cfg.train_dataloader.dataset.pipeline
             if t['type'] == 'mmdet.RandomFlip'
             and t.get('direction', 'horizontal') == direction]
    assert len(probs) <= 1
    return probs[0] if probs else 0.0


def mosaic_steps(cfg: Config) -> tuple:
    """(probability of the mosaic path, its steps): the whole pipeline, one
    branch of a RandomChoice, or none."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    if any(t['type'] == 'WeightedMosaic' for t in pipeline):
        return transform(cfg, 'WeightedMosaic')['prob'], pipeline
    choice = transform(cfg, 'RandomChoice')
    if choice:
        assert choice['transforms'][0][0]['type'] == 'WeightedMosaic'
        return choice['prob'][0], choice['transforms'][0]
    return 0.0, []


def mosaic_prob(cfg: Config) -> float:
    return mosaic_steps(cfg)[0]


def mixup_prob(cfg: Config) -> float:
    """The share of mosaics blended with a second (0: no MixUp step)."""
    steps = [t for t in mosaic_steps(cfg)[1] if t['type'] == 'WeightedMixUp']
    return steps[0]['prob'] if steps else 0.0
