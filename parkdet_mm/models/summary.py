"""What a detector is: its size and its cost, as YOLOv5's model summary states them."""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import complexity_stats_table
from torch import nn


def _numel(value) -> int:
    return int(np.prod(get_shape(value)))


# What MMEngine's counter leaves out and YOLOv5's (thop 0.1.1, on the unfused
# model) counts, in multiply-accumulates: BatchNorm 2 per element to normalize and
# 2 for the affine, nearest upsampling 1 per output element.
YOLOV5_OP_HANDLES = {
    'aten::batch_norm': lambda inputs, outputs: 4 * _numel(inputs[0]),
    'aten::upsample_nearest2d': lambda inputs, outputs: _numel(outputs[0]),
}


@dataclass
class ModelSummary:
    """A detector's layers (modules, YOLOv5's count), parameters, trainable
    parameters, and GFLOPs per image size (YOLOv5's convention: 2 x the
    multiply-accumulates, one image, BatchNorm and upsampling counted as YOLOv5's
    thop counts them); ``table`` is MMEngine's per-module table at
    the first size when asked for."""
    layers: int
    parameters: int
    trainable: int
    gflops: Tuple[Tuple[Tuple[int, int], float], ...]
    table: Optional[str] = None


def model_summary(model: nn.Module, sizes: Sequence[Tuple[int, int]],
                  per_module: bool = False) -> ModelSummary:
    """Count ``model``'s layers and parameters and, with MMEngine's FLOP counter
    (``mmengine.analysis``), its GFLOPs on one image of each (width, height) of
    ``sizes`` through its tensor forward (backbone, neck, head; no decoding or
    NMS)."""
    parameters = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    gflops, table = [], None
    was_training = model.training
    model.eval()
    try:
        for i, (width, height) in enumerate(sizes):
            device = next(model.parameters()).device
            image = torch.zeros(1, 3, height, width, device=device)
            with torch.no_grad():
                analyzer = FlopAnalyzer(model, (image, )).set_op_handle(
                    **YOLOV5_OP_HANDLES)
                analyzer.unsupported_ops_warnings(False)
                analyzer.uncalled_modules_warnings(False)
                flops = analyzer.total()
            # MMEngine counts a multiply-accumulate as one flop; YOLOv5 as two
            gflops.append(((width, height), 2 * flops / 1e9))
            if per_module and i == 0:
                table = complexity_stats_table(analyzer, max_depth=3,
                                               show_param_shapes=False)
    finally:
        model.train(was_training)
    return ModelSummary(layers=len(list(model.modules())), parameters=parameters,
                        trainable=trainable, gflops=tuple(gflops), table=table)
