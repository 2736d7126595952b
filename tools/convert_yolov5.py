"""Convert an ultralytics YOLOv5 checkpoint (.pt) into an MMYOLO checkpoint.

    python tools/convert_yolov5.py SRC.pt DST.pth [--weights ema|model] [--config CONFIG]

Reads YOLOv5 releases v5.0 to v7.0 (P5 or P6, any depth, width and number of classes)
without YOLOv5's code and without running anything from the file. Writes
``{'state_dict': <MMYOLO keys, fp32>, 'meta': {...}}`` (loadable with torch's
``weights_only=True``), prints the config values the weights need and, with
``--config``, where that config differs. ``meta['anchors']`` holds the anchors in
pixels, in the form of ``model.bbox_head.prior_generator.base_sizes``.
"""
import argparse
import time
from collections import OrderedDict

import torch

from parkdet_challenge.atomic import atomic_write
from parkdet_challenge.errors import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a YOLOv5 .pt checkpoint to MMYOLO')
    parser.add_argument('src', help='YOLOv5 checkpoint (.pt)')
    parser.add_argument('dst', help='MMYOLO checkpoint to write (.pth)')
    parser.add_argument(
        '--weights', choices=('ema', 'model'),
        help='which weights to take (default: ema when the file has them)')
    parser.add_argument(
        '--config', help='a config to compare with what the weights need')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from parkdet_mm.converters import yolov5_checkpoint as y5  # after parsing: --help stays fast
    from parkdet_mm.engine.checkpoint import check_checkpoint_file
    check_checkpoint_file(args.src)
    start = time.perf_counter()
    ckpt = y5.convert_yolov5_checkpoint(args.src, weights=args.weights)
    cfg = None
    if args.config:
        from parkdet_mm.config import load_config
        cfg = load_config(args.config)
    ckpt['state_dict'] = OrderedDict(ckpt['state_dict'])
    with atomic_write(args.dst) as f:
        torch.save(ckpt, f)
    meta = ckpt['meta']
    params = sum(t.numel() for t in ckpt['state_dict'].values()
                 if t.is_floating_point())
    print(f'{args.src} -> {args.dst}: {len(ckpt["state_dict"])} tensors, '
          f'{params / 1e6:.1f} M parameters, {time.perf_counter() - start:.1f} s')
    for line in y5.iter_summary(meta):
        print(line)
    if cfg is not None:
        diffs = y5.config_differences(meta, cfg)
        if not diffs:
            print(f'{args.config} matches the checkpoint.')
        else:
            print(f'{args.config} differs from the checkpoint in {len(diffs)} '
                  'value(s) (weights whose shapes differ will not load):')
            for key, have, wanted in diffs:
                print(f'  {key}: config {have!r}, checkpoint {wanted!r}')


if __name__ == '__main__':
    run_cli(main)
