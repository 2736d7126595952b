"""Export a checkpoint to ONNX: network, box decoding and, with --nms, NMS as ONNX ops.

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--img-size 1536]
        [--batch 1] [--dynamic] [--nms]

The graph takes ``images``: letterboxed RGB images, float32 0..255, (B, 3, H, W), H
and W multiples of 64 (the largest stride). It normalizes them as the config's data
preprocessor does. Outputs (pixels of the input, xyxy):
  without --nms: ``boxes`` (B, N, 4) and ``scores`` (B, N, classes) for every prior;
  with --nms: ``num_dets`` (B, 1), ``boxes`` (B, M, 4), ``scores`` (B, M),
  ``labels`` (B, M), M = the config's max_per_img, after the config's score
  threshold and class-aware NMS (ONNX NonMaxSuppression).
--dynamic makes batch, height and width free. Checked with onnx's checker.
"""
import argparse
import os
import os.path as osp
import warnings

import torch
from mmengine.config import DictAction

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis import load_detector
from parkdet_mm.config import load_config
from parkdet_mm.deploy import YOLOv5ONNXModel
from parkdet_mm.engine.checkpoint import check_checkpoint_file

STRIDE = 64
OPSET = 17


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='.pth (or what tools/predict.py takes)')
    parser.add_argument('out', metavar='OUT.onnx')
    parser.add_argument('--img-size', type=int,
                        help="input size (default: the config's test_img_scale)")
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--dynamic', action='store_true',
                        help='batch, height and width free at run time')
    parser.add_argument('--nms', action='store_true',
                        help="score threshold, class-aware NMS and max_per_img "
                        "of the config's test_cfg in the graph")
    parser.add_argument('--cfg-options', nargs='+',
                        action=DictAction)
    return parser.parse_args()


def export(model: YOLOv5ONNXModel, out: str, img_size: int, batch: int,
           dynamic: bool) -> None:
    """Trace ``model`` on a (batch, 3, img_size, img_size) input into ``out``,
    atomically (a temporary file renamed when complete and checked)."""
    import onnx
    names = (['num_dets', 'boxes', 'scores', 'labels']
             if model.with_nms else ['boxes', 'scores'])
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {'images': {0: 'batch', 2: 'height', 3: 'width'}}
        dynamic_axes.update({name: {0: 'batch'} for name in names})
    images = torch.zeros((batch, 3, img_size, img_size))
    tmp = f'{out}.{os.getpid()}.tmp'
    try:
        with warnings.catch_warnings():
            # TorchScript exporter: deprecated in favour of torch.export, which
            # would need onnxscript; trace warnings are about shapes, see --dynamic.
            warnings.simplefilter('ignore')
            torch.onnx.export(model, (images, ), tmp, dynamo=False,
                              opset_version=OPSET, input_names=['images'],
                              output_names=names, dynamic_axes=dynamic_axes)
        onnx.checker.check_model(tmp)
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint_file(args.checkpoint)
    img_size = args.img_size or cfg.get('test_img_scale', cfg.img_scale)[0]
    if img_size % STRIDE or img_size <= 0:
        raise InputError(f'--img-size {img_size} is not a multiple of {STRIDE}')
    if args.batch < 1:
        raise InputError(f'--batch {args.batch} must be at least 1')
    detector = load_detector(cfg, args.checkpoint, tta=False, device='cpu')
    try:
        model = YOLOv5ONNXModel(detector, with_nms=args.nms).eval()
    except ValueError as err:  # a test_cfg the graph does not express
        raise InputError(f'{args.config}: {err}') from None
    if osp.dirname(args.out):
        os.makedirs(osp.dirname(args.out), exist_ok=True)
    export(model, args.out, img_size, args.batch, args.dynamic)
    print(f'wrote {args.out} ({osp.getsize(args.out) / 1e6:.1f} MB, input '
          f'{"dynamic" if args.dynamic else args.batch}x3x{img_size}x{img_size}'
          f'{", with NMS" if args.nms else ""})')


if __name__ == '__main__':
    run_cli(main)
