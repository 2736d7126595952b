"""Freeze backbone layers by their YOLOv5 yaml index, as YOLOv5's fine-tuning did."""
from typing import List, Sequence

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmyolo.registry import HOOKS


def yolov5_backbone_layers(backbone: nn.Module) -> List[nn.Module]:
    """The backbone's modules in YOLOv5's yaml order: ``[stem, *stage1, *stage2, ...]``.

    For MMYOLO's ``YOLOv5CSPDarknet`` P6 that is 0 stem, 1..8 the (Conv, C3) pairs
    of stages 1-4, 9..11 stage 5's Conv, C3, SPPF; for ``YOLOv5V50CSPDarknet`` P6
    9..11 are Conv, SPP, C3, as in v5.0's yolov5l6.yaml.
    """
    layers: List[nn.Module] = []
    for name in backbone.layers:  # BaseBackbone: ['stem', 'stage1', ...]
        module = getattr(backbone, name)
        layers.extend(module.children() if isinstance(module, nn.Sequential)
                      else [module])
    return layers


@HOOKS.register_module()
class FreezeLayersHook(Hook):
    """Stop gradients for backbone layers given by YOLOv5 yaml index.

    YOLOv5 fine-tunes with some layers frozen by setting ``requires_grad = False``
    on their parameters (v5.0's ``freeze`` list, v6.x's ``--freeze``); the model
    stays in train mode, so their BatchNorm layers keep updating running statistics,
    and the optimizer skips them because they get no gradient. This hook does the
    same before training starts (after ``load_from``/resume).

    The indices count the backbone's modules as YOLOv5's yaml does (see
    :func:`yolov5_backbone_layers`). An index that matches no layer is accepted and
    logged as freezing nothing: the 2021 reference's list reads ``'6' '7'`` (a
    missing comma, hence layer 67), and its configs reproduce that quirk.

    On several processes, set ``model_wrapper_cfg=dict(type=
    'MMDistributedDataParallel', find_unused_parameters=True)``: DDP wraps the model
    before hooks run and would otherwise wait for the frozen parameters' gradients.

    Args:
        layers: YOLOv5 yaml indices of the backbone layers to freeze.
    """
    priority = 'VERY_HIGH'

    def __init__(self, layers: Sequence[int]) -> None:
        self.layers = [int(i) for i in layers]

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        modules = yolov5_backbone_layers(model.backbone)
        frozen, params = [], 0
        for index in self.layers:
            if not 0 <= index < len(modules):
                runner.logger.warning(
                    f'FreezeLayersHook: layer {index} matches no backbone layer '
                    f'(0..{len(modules) - 1}); nothing frozen for it')
                continue
            for p in modules[index].parameters():
                p.requires_grad_(False)
                params += p.numel()
            frozen.append(index)
        runner.logger.info(
            f'FreezeLayersHook: froze backbone layers {frozen} ({params} parameters; '
            'BatchNorm statistics keep updating)')
