"""What a model is and what it costs: layers, parameters and GFLOPs, as YOLOv5 prints.

    python tools/model_info.py CONFIG [CHECKPOINT] [--img-size N] [--per-module]

Prints, like YOLOv5's model summary, the detector's layers (modules), parameters,
trainable parameters (after a checkpoint's frozen layers, none: all count) and
GFLOPs of one image at the training size (img_scale) and the test size
(test_img_scale), or at --img-size N only; --per-module adds MMEngine's table per
module. FLOPs are counted by MMEngine's counter (mmengine.analysis) on the
backbone, neck and head; YOLOv5's convention, 2 x multiply-accumulates. With a
CHECKPOINT its weights (and anchors) are loaded first; the counts do not depend on
them.
"""
import argparse

from mmengine.config import DictAction

import parkdet_mm  # noqa: F401  (registers modules)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.config import load_config
from parkdet_mm.engine.checkpoint import check_checkpoint_file
from parkdet_mm.models.summary import model_summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='optional .pth to load')
    parser.add_argument('--img-size', type=int,
                        help='count at N x N only (default: the training and '
                        'test sizes)')
    parser.add_argument('--per-module', action='store_true',
                        help="MMEngine's per-module table of parameters and FLOPs")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    if args.img_size is not None:
        sizes = [(args.img_size, args.img_size)]
    else:
        sizes = [tuple(cfg.img_scale), tuple(cfg.test_img_scale)]
        sizes = sorted(set(sizes), key=sizes.index)
    stride = max(cfg.strides)
    for width, height in sizes:
        if width % stride or height % stride or width <= 0 or height <= 0:
            raise InputError(f'image size {width}x{height}: must be whole '
                             f'multiples of {stride} (the largest stride)')
    if args.checkpoint:
        from parkdet_mm.apis import load_detector
        check_checkpoint_file(args.checkpoint)
        model = load_detector(cfg, args.checkpoint, tta=False, device='cpu')
    else:
        from mmengine.registry import init_default_scope

        from mmyolo.registry import MODELS
        init_default_scope('mmyolo')
        model = MODELS.build(cfg.model)
    summary = model_summary(model, sizes, per_module=args.per_module)
    name = (f'YOLOv5-P6 (deepen {cfg.deepen_factor}, widen {cfg.widen_factor}, '
            f'{cfg.num_classes} classes)')
    costs = ', '.join(f'{gflops:.1f} GFLOPs at {w}x{h}'
                      for (w, h), gflops in summary.gflops)
    print(f'{name} summary: {summary.layers} layers, {summary.parameters:,} '
          f'parameters, {summary.trainable:,} trainable, {costs}')
    if summary.table:
        print(f'per module at {sizes[0][0]}x{sizes[0][1]} (MMEngine counts a '
              'multiply-accumulate as one flop):')
        print(summary.table)


if __name__ == '__main__':
    run_cli(main)
