"""YOLOv5 v5.0's CSP-Darknet (the 2021 solution's yolov5l6, docs/reference.md section 9)."""
from typing import List, Optional, Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.backbones.csp_darknet import CSPLayer, Focus

from mmyolo.models.backbones import YOLOv5CSPDarknet
from mmyolo.models.layers import SPPFBottleneck
from mmyolo.models.utils import make_divisible, make_round
from mmyolo.registry import MODELS

# v5.0's yolov5l6.yaml: SPP [3, 5, 7]; its P5 yamls (yolov5l.yaml ...): SPP [5, 9, 13].
V50_SPP_KERNEL_SIZES = {'P5': (5, 9, 13), 'P6': (3, 5, 7)}


@MODELS.register_module()
class YOLOv5V50CSPDarknet(YOLOv5CSPDarknet):
    """The backbone of YOLOv5 v5.0, with MMYOLO's layers.

    Two differences from v6.x (MMYOLO's ``YOLOv5CSPDarknet``):

    - the stem is a ``Focus``: space-to-depth (2x2 pixels into channels), then a 3x3
      conv to ``64 * widen_factor`` channels (v6.x: one 6x6 conv, stride 2);
    - the last stage is Conv(3x3, stride 2) -> SPP (parallel max-pools of
      ``spp_kernel_sizes``) -> C3 without shortcut (v6.x: Conv -> C3 -> SPPF).

    The middle stages' C3 depths are v5.0's too: 3, 9, 9 (+3 in P6) bottlenecks
    before ``deepen_factor`` (v6.x: 3, 6, 9). Module order inside
    ``stage{last}`` follows the yaml, so YOLOv5's layer ``i`` is the ``i``-th module
    of ``[stem, *stage1, *stage2, ...]`` in both variants.

    Args:
        spp_kernel_sizes: the SPP's pooling kernels; None takes v5.0's for ``arch``
            (P6: 3, 5, 7; P5: 5, 9, 13).
        Others as :class:`mmyolo.models.backbones.YOLOv5CSPDarknet`.
    """
    # [in, out, num_blocks, add_identity, use_spp] as MMYOLO writes them; the last
    # stage's add_identity is v5.0's "C3(1024, False)".
    arch_settings = {
        'P5': [[64, 128, 3, True, False], [128, 256, 9, True, False],
               [256, 512, 9, True, False], [512, 1024, 3, False, True]],
        'P6': [[64, 128, 3, True, False], [128, 256, 9, True, False],
               [256, 512, 9, True, False], [512, 768, 3, True, False],
               [768, 1024, 3, False, True]]
    }

    def __init__(self,
                 arch: str = 'P5',
                 *args,
                 spp_kernel_sizes: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        self.spp_kernel_sizes = tuple(spp_kernel_sizes or V50_SPP_KERNEL_SIZES[arch])
        super().__init__(arch, *args, **kwargs)

    def build_stem_layer(self) -> nn.Module:
        """Focus: space-to-depth, then Conv(64 * widen, 3x3)."""
        return Focus(
            self.input_channels,
            make_divisible(self.arch_setting[0][0], self.widen_factor),
            kernel_size=3,
            stride=1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def build_stage_layer(self, stage_idx: int, setting: list) -> List[nn.Module]:
        """Conv -> C3, or for the last stage Conv -> SPP -> C3 (v5.0's order)."""
        in_channels, out_channels, num_blocks, add_identity, use_spp = setting
        in_channels = make_divisible(in_channels, self.widen_factor)
        out_channels = make_divisible(out_channels, self.widen_factor)
        stage: List[nn.Module] = [
            ConvModule(
                in_channels,
                out_channels,
                kernel_size=3,
                stride=2,
                padding=1,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)
        ]
        if use_spp:
            stage.append(
                SPPFBottleneck(
                    out_channels,
                    out_channels,
                    kernel_sizes=self.spp_kernel_sizes,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg))
        stage.append(
            CSPLayer(
                out_channels,
                out_channels,
                num_blocks=make_round(num_blocks, self.deepen_factor),
                add_identity=add_identity,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg))
        return stage
