"""Detect objects in any images or a video with a checkpoint; draw and list them.

    python tools/detect.py CONFIG CHECKPOINT [CHECKPOINT ...] SOURCE [--out-dir DIR]
        [--tta] [--score-thr/--conf-thres 0.25] [--iou-thres 0.7] [--max-det N]
        [--classes 0 2 ...] [--agnostic-nms] [--save-txt [--save-conf]]
        [--save-crop] [--line-thickness 3] [--hide-labels] [--hide-conf]
        [--ensemble wbf|nms] [--wbf-iou 0.55] [--device cpu|cuda[:N]] [--half]
        [--backend pytorch|onnxruntime|openvino] [--slice SIZE [--overlap 0.2]]

SOURCE is an image, a folder (searched recursively), a glob pattern (quote it) or a
video file. Writes into --out-dir (default WORK_DIR/detect) each image with its boxes
drawn, under its path relative to SOURCE (or the video, drawn frame by frame, as
NAME.mp4), and detections.json: one record per box with the file name (and the
frame index for a video), the box ``[x1, y1, x2, y2]`` in pixels of the original
image, the class name and the score. Images run at the config's test size;
--tta adds YOLOv5's test-time augmentation (the config's tta_model). Several
checkpoints are fused as tools/predict.py fuses them (--ensemble, default the
config's predict_ensemble); --half runs FP16 on CUDA; --backend onnxruntime or
openvino runs the network there, on the CPU (docs/inference.md); --slice SIZE runs
the model on SIZE x SIZE tiles of each image (and frame) as well, merged with the
whole image's boxes by the NMS (small objects).

YOLOv5 detect.py's options, with its semantics: --iou-thres and --max-det set the
NMS IoU (nms_iou_thr) and the boxes kept per image (max_per_img), --agnostic-nms
runs NMS across classes (agnostic_nms), --classes keeps those class indices
(before NMS, as YOLOv5: another class's box neither suppresses one nor takes a
place under --max-det), --save-txt writes labels/STEM.txt per image
(STEM_FRAME.txt per video frame), one line ``class cx cy w h`` normalized by the
image size (--save-conf appends the score), --save-crop saves each box, grown
as YOLOv5's save_one_box (x 1.02 + 10 px), as crops/CLASS/STEM.jpg (STEM2.jpg,
... for more), --line-thickness sets the box lines, --hide-labels and --hide-conf
leave the class names or the scores off the pictures. The work is parkdet_mm.apis.detect_source's.
"""
import argparse

from mmengine.config import DictAction

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import run_cli
from parkdet_mm.apis import detect_source
from parkdet_mm.apis.run_setup import (
    add_device_args,
    add_ensemble_args,
    check_device_args,
    flush_denormals_on_cpu,
)
from parkdet_mm.apis.sliced import add_slice_args
from parkdet_mm.config import load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoints', nargs='+', metavar='CHECKPOINT',
                        help='.pth (or any checkpoint tools/predict.py takes); '
                        'several are fused')
    parser.add_argument('source', help='image, folder, glob or video file')
    parser.add_argument('--out-dir', help='default: WORK_DIR/detect')
    parser.add_argument('--tta', action='store_true',
                        help="YOLOv5's test-time augmentation")
    parser.add_argument('--score-thr', '--conf-thres', type=float, default=0.25,
                        help='keep (list and draw) boxes scoring at least this')
    parser.add_argument('--iou-thres', type=float,
                        help="NMS IoU threshold (the config's nms_iou_thr)")
    parser.add_argument('--max-det', type=int,
                        help="boxes kept per image (the config's max_per_img)")
    parser.add_argument('--classes', type=int, nargs='+', metavar='INDEX',
                        help='keep only these class indices')
    parser.add_argument('--agnostic-nms', action='store_true', default=None,
                        help='NMS across classes')
    parser.add_argument('--save-txt', action='store_true',
                        help='labels/STEM.txt: class cx cy w h, normalized')
    parser.add_argument('--save-conf', action='store_true',
                        help='with --save-txt, the score after each box')
    parser.add_argument('--save-crop', action='store_true',
                        help='crops/CLASS/STEM.jpg for every box')
    parser.add_argument('--line-thickness', type=int, default=3,
                        help='box line width in pixels')
    parser.add_argument('--hide-labels', action='store_true',
                        help='no class names (nor scores) on the pictures')
    parser.add_argument('--hide-conf', action='store_true',
                        help='no scores on the pictures')
    add_ensemble_args(parser)
    add_device_args(parser)
    add_slice_args(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = check_device_args(args)
    flush_denormals_on_cpu()
    cfg = load_config(args.config, args.cfg_options, dict(
        nms_iou_thr=args.iou_thres, max_per_img=args.max_det,
        agnostic_nms=args.agnostic_nms))
    outputs = detect_source(
        cfg, args.checkpoints, args.source, args.out_dir, args.score_thr,
        args.classes, args.save_txt, args.save_conf, args.save_crop,
        slice_size=args.slice, overlap=args.overlap, tta=args.tta,
        device=device, half=args.half, backend=args.backend, ensemble=args.ensemble,
        wbf_iou=args.wbf_iou, line_thickness=args.line_thickness,
        hide_labels=args.hide_labels, hide_conf=args.hide_conf)
    print(f'{len(outputs.records)} boxes scoring >= {args.score_thr}: drawn in '
          f'{outputs.out_dir}, listed in {outputs.json_file}')


if __name__ == '__main__':
    run_cli(main)
