"""A checkpoint's detector, ready for inference: what every tool that runs one
(predict, detect, test's ensembles, export, benchmark) builds it with."""
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from mmyolo.registry import MODELS
from parkdet_challenge.errors import InputError
from parkdet_mm.deploy import use_backend
from parkdet_mm.engine.checkpoint import load_local_checkpoint
from parkdet_mm.models import half_precision
from parkdet_mm.models.anchors import apply_checkpoint_anchors


def check_checkpoint_fits(model: nn.Module, state_dict: dict,
                          checkpoint: str) -> None:
    """Raise InputError when the checkpoint's tensors do not fit the model.

    The usual cause is a checkpoint of another number of classes; say so.
    """
    own = model.state_dict()
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            message = (f'checkpoint {checkpoint} does not fit the config: {key} '
                       f'is {tuple(value.shape)}, the model has '
                       f'{tuple(own[key].shape)}')
            if 'convs_pred' in key:
                # YOLOv5 head: num_base_priors x (5 + num_classes) outputs
                ckpt_classes = value.shape[0] // 3 - 5
                model_classes = own[key].shape[0] // 3 - 5
                message = (f'checkpoint {checkpoint} was trained for '
                           f'{ckpt_classes} classes, the config has '
                           f'{model_classes}')
            raise InputError(message)
    missing = [key for key in own if key not in state_dict]
    if missing:
        raise InputError(f'checkpoint {checkpoint} lacks {len(missing)} of the '
                         f"model's tensors (e.g. {missing[0]}); wrong config?")


def load_weights(model: nn.Module, checkpoint: str) -> nn.Module:
    """Load ``checkpoint`` into ``model`` (a detector, or a TTA model's detector)
    after checking that it fits; its ``meta['anchors']``, if any, replace the
    model's anchors. Returns ``model``."""
    detector = getattr(model, 'module', model)
    state = load_local_checkpoint(checkpoint, map_location='cpu')
    state_dict = state.get('state_dict', state)
    check_checkpoint_fits(detector, state_dict, checkpoint)
    detector.load_state_dict(state_dict)
    apply_checkpoint_anchors(detector, state)
    return model


def load_detector(cfg: Config, checkpoint: str, tta: bool, device: str,
                  half: bool = False, backend: str = 'pytorch') -> nn.Module:
    """The config's detector with ``checkpoint`` loaded, in eval mode on ``device``.

    With ``tta`` it is wrapped in the config's ``tta_model``; with ``half`` its
    network runs in FP16 (:func:`~parkdet_mm.models.half_precision`, CUDA only);
    with ``backend`` 'onnxruntime' or 'openvino' its network runs there, from an
    export cached beside the checkpoint (:func:`~parkdet_mm.deploy.use_backend`).
    The checkpoint's ``meta['anchors']``, if any, replace the config's anchors.
    Every tool that runs a checkpoint (predict, detect, export) builds its model
    here.
    """
    init_default_scope(cfg.get('default_scope', 'mmyolo'))
    model = MODELS.build(member_config(cfg, tta))
    load_weights(model, checkpoint)
    if backend != 'pytorch':
        use_backend(getattr(model, 'module', model).eval(), checkpoint, backend)
    model = model.to(device).eval()
    return half_precision(model) if half else model


def member_config(cfg: Config, tta: bool) -> dict:
    """The model config of one checkpoint: the config's detector, in its
    ``tta_model`` with ``tta``."""
    return dict(**cfg.tta_model, module=cfg.model) if tta else cfg.model
