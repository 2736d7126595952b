"""Detect objects in any images or a video with a checkpoint; draw and list them.

    python tools/detect.py CONFIG CHECKPOINT SOURCE [--out-dir DIR] [--tta]
        [--score-thr/--conf-thres 0.25] [--iou-thres 0.7] [--max-det N]
        [--classes 0 2 ...] [--agnostic-nms] [--save-txt [--save-conf]]
        [--save-crop] [--line-thickness 3] [--hide-labels] [--hide-conf]
        [--device cpu|cuda[:N]] [--slice SIZE [--overlap 0.2]]

SOURCE is an image, a folder (searched recursively), a glob pattern (quote it) or a
video file. Writes into --out-dir (default WORK_DIR/detect) each image with its boxes
drawn, under its path relative to SOURCE (or the video, drawn frame by frame, as
NAME.mp4), and detections.json: one record per box with the file name (and the
frame index for a video), the box ``[x1, y1, x2, y2]`` in pixels of the original
image, the class name and the score. Images run at the config's test size;
--tta adds YOLOv5's test-time augmentation (the config's tta_model); --slice SIZE
runs the model on SIZE x SIZE tiles of each image (and frame) as well, merged with
the whole image's boxes by the NMS (small objects).

YOLOv5 detect.py's options, with its semantics: --iou-thres and --max-det set the
NMS IoU (nms_iou_thr) and the boxes kept per image (max_per_img), --agnostic-nms
runs NMS across classes (agnostic_nms), --classes keeps those class indices (after
NMS and --max-det, where YOLOv5 filters before them: with --agnostic-nms a box of
another class can suppress one, and other classes' boxes count against the cap),
--save-txt writes labels/STEM.txt per image (STEM_FRAME.txt per video frame), one
line ``class cx cy w h`` normalized by the image size (--save-conf appends the
score), --save-crop saves each box, grown as YOLOv5's save_one_box (x 1.02 + 10 px),
as crops/CLASS/STEM.jpg (STEM2.jpg, ... for more), --line-thickness sets the box
lines, --hide-labels and --hide-conf leave the class names or the scores off the
pictures.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmdet.visualization.palette import get_palette
from mmengine.config import DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.structures import InstanceData
from tqdm import tqdm

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from mmyolo.registry import VISUALIZERS
from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.cli import InputError, run_cli
from parkdet_mm.apis import load_detector
from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
from parkdet_mm.apis.sliced import add_slice_args, enable_sliced_inference
from parkdet_mm.config import load_config
from parkdet_mm.datasets.pipelines import replace_transforms
from parkdet_mm.engine.checkpoint import check_checkpoint_file

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'}
VIDEO_SUFFIXES = {'.mp4', '.avi', '.mov', '.mkv', '.m4v', '.mpg', '.mpeg',
                  '.wmv'}

# mmengine warns for every label drawn near an image's edge; the boxes themselves
# are clipped to the image, so the warning says nothing to act on.
warnings.filterwarnings('ignore', message='Warning: The .* is out of bounds')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint',
                        help='.pth (or any checkpoint tools/predict.py takes)')
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
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    add_slice_args(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def find_images(source: str) -> Tuple[List[Path], Path]:
    """The images SOURCE names, sorted, and the folder their output paths are
    relative to. Raises InputError when it names none."""
    path = Path(source)
    if path.is_dir():
        images = sorted(p for p in path.rglob('*')
                        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise InputError(f'source folder {source} holds no image '
                             f'({", ".join(sorted(IMAGE_SUFFIXES))})')
        return images, path
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f'source {source} is neither an image '
                             f'({", ".join(sorted(IMAGE_SUFFIXES))}) nor a video '
                             f'({", ".join(sorted(VIDEO_SUFFIXES))})')
        return [path], path.parent
    if any(char in source for char in '*?['):
        images = sorted(Path(p) for p in glob.glob(source, recursive=True)
                        if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InputError(f'source pattern {source} matches no image')
        return images, Path(os.path.commonpath([p.parent for p in images]))
    raise InputError(f'source {source} does not exist')


@dataclass
class Outputs:
    """What to write besides the drawn pictures and detections.json (YOLOv5's
    detect.py options)."""
    out_dir: str
    save_txt: bool = False
    save_conf: bool = False
    save_crop: bool = False

    def write(self, image: np.ndarray, pred: InstanceData, classes: Sequence[str],
              stem: str) -> None:
        """``image``'s label file and crops for its detections ``pred``."""
        height, width = image.shape[:2]
        if self.save_txt and len(pred):
            lines = yolo_label_lines(pred, width, height, self.save_conf)
            write_bytes_atomic(osp.join(self.out_dir, 'labels', f'{stem}.txt'),
                               ''.join(lines).encode())
        if self.save_crop:
            for box, label in zip(pred.bboxes.tolist(), pred.labels.tolist()):
                save_crop(image, box, osp.join(self.out_dir, 'crops',
                                               classes[label], f'{stem}.jpg'))


def yolo_label_lines(pred: InstanceData, width: int, height: int,
                     with_score: bool) -> List[str]:
    """YOLOv5's --save-txt lines: ``class cx cy w h [score]``, the box normalized
    by the image size, printed with %g."""
    lines = []
    for (x1, y1, x2, y2), label, score in zip(pred.bboxes.tolist(),
                                              pred.labels.tolist(),
                                              pred.scores.tolist()):
        line = (label, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height,
                (x2 - x1) / width, (y2 - y1) / height)
        if with_score:
            line += (score, )
        lines.append(('%g ' * len(line)).rstrip() % line + '\n')
    return lines


def save_crop(image: np.ndarray, box: Sequence[float], path: str) -> None:
    """YOLOv5's save_one_box: the box's width and height x 1.02 + 10 pixels about
    its centre, clipped to the image, saved as JPEG at ``path`` or, when that
    exists, at the first free STEM2.jpg, STEM3.jpg, ..."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = (x2 - x1) * 1.02 + 10, (y2 - y1) * 1.02 + 10
    height, width = image.shape[:2]
    left, right = (int(min(max(v, 0), width)) for v in (cx - w / 2, cx + w / 2))
    top, bottom = (int(min(max(v, 0), height)) for v in (cy - h / 2, cy + h / 2))
    stem, suffix = osp.splitext(path)
    number = 2
    while osp.exists(path):
        path = f'{stem}{number}{suffix}'
        number += 1
    ok, encoded = cv2.imencode('.jpg', image[top:bottom, left:right],
                               [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_bytes_atomic(path, encoded.tobytes())


class Detector:
    """The checkpoint, the config's test pipeline and a visualizer, per image."""

    def __init__(self, cfg, checkpoint: str, tta: bool, device: str,
                 score_thr: float, classes: Optional[Sequence[int]] = None,
                 line_thickness: int = 3, hide_labels: bool = False,
                 hide_conf: bool = False) -> None:
        self.model = load_detector(cfg, checkpoint, tta, device)
        # The loader reads arrays, so images and video frames take one path.
        pipeline = replace_transforms(cfg.test_dataloader.dataset.pipeline,
                                      'LoadImageFrom',
                                      dict(type='mmdet.LoadImageFromNDArray'))
        self.pipeline = Compose(replace_transforms(pipeline, 'LoadAnnotations', None))
        self.classes = cfg.metainfo['classes']
        self.score_thr = score_thr
        self.keep_classes = None if classes is None else list(classes)
        self.line_thickness = line_thickness
        self.hide_labels, self.hide_conf = hide_labels, hide_conf
        self.visualizer = VISUALIZERS.build(
            dict(type='mmdet.DetLocalVisualizer', name='detect',
                 vis_backends=[]))
        self.palette = get_palette('random', len(self.classes))

    def __call__(self, image: np.ndarray) -> Tuple[InstanceData, np.ndarray]:
        """Detections of a BGR image kept by score and class, and the image with
        them drawn (BGR)."""
        with torch.no_grad():
            if hasattr(self.model, 'predict_image'):  # --slice: from the array
                pred = self.model.predict_image(image).cpu()
            else:
                data = self.pipeline(dict(img=image, img_id=0))
                pred = self.model.test_step(pseudo_collate([data]))[0].pred_instances.cpu()
        keep = pred.scores >= self.score_thr
        if self.keep_classes is not None:
            keep &= torch.isin(pred.labels, torch.tensor(self.keep_classes))
        pred = pred[keep]
        return pred, self.draw(image, pred)

    def records(self, pred: InstanceData) -> List[dict]:
        """detections.json's records of ``pred``: box, class name, score."""
        return [
            dict(bbox=[round(float(v), 1) for v in box],
                 category=self.classes[int(label)], score=round(float(score), 4))
            for box, label, score in zip(pred.bboxes, pred.labels, pred.scores)
        ]

    def draw(self, image: np.ndarray, pred: InstanceData) -> np.ndarray:
        """``image`` (BGR) with ``pred``'s boxes in their class colours and, as
        YOLOv5 labels them, ``class score`` above each."""
        visualizer = self.visualizer
        visualizer.set_image(image[..., ::-1])
        if len(pred):
            colours = [self.palette[int(label)] for label in pred.labels]
            visualizer.draw_bboxes(pred.bboxes, edge_colors=colours,
                                   line_widths=self.line_thickness)
            if not self.hide_labels:
                texts = [self.classes[int(label)] if self.hide_conf else
                         f'{self.classes[int(label)]} {float(score):.2f}'
                         for label, score in zip(pred.labels, pred.scores)]
                size = max(8, 4 * self.line_thickness)
                # above the box, or inside it where there is no room above
                visualizer.draw_texts(
                    texts, pred.bboxes[:, :2], colors='white', font_sizes=size,
                    vertical_alignments=['bottom' if y > size else 'top'
                                         for y in pred.bboxes[:, 1].tolist()],
                    bboxes=[dict(facecolor=tuple(c / 255 for c in colour),
                                 alpha=0.8, pad=0.5, edgecolor='none')
                            for colour in colours])
        return visualizer.get_image()[..., ::-1]


def detect_images(detector: Detector, images: List[Path], root: Path,
                  outputs: Outputs) -> list:
    """Draw every readable image into the output folder; records of all of them.
    An unreadable image among several is skipped with a warning naming it."""
    records = []
    for path in tqdm(images, desc='detect', unit='image'):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            if len(images) == 1:
                raise InputError(f'source {path} is not a readable image')
            tqdm.write(f'warning: skipped {path}: not a readable image',
                       file=sys.stderr)
            continue
        name = path.relative_to(root).as_posix()
        pred, drawn = detector(image)
        ok, encoded = cv2.imencode(path.suffix, drawn)
        write_bytes_atomic(osp.join(outputs.out_dir, name), encoded.tobytes())
        outputs.write(image, pred, detector.classes, osp.splitext(name)[0])
        records.extend(dict(file_name=name, **record)
                       for record in detector.records(pred))
    return records


def video_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def detect_video(detector: Detector, video: Path, outputs: Outputs) -> list:
    """Draw every frame into ``OUT_DIR/STEM.mp4``; records with frame indices."""
    out_dir = outputs.out_dir
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise InputError(f'source {video} is not a readable video')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    out = osp.join(out_dir, f'{video.stem}.mp4')
    # The writer needs a name ending in .mp4; renamed over ``out`` once complete.
    tmp = osp.join(out_dir, f'.{video.stem}.{os.getpid()}.tmp.mp4')
    os.makedirs(out_dir, exist_ok=True)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    records = []
    try:
        frames = 0
        for index, frame in enumerate(
                tqdm(video_frames(capture), desc='detect', unit='frame',
                     total=total)):
            pred, drawn = detector(frame)
            writer.write(drawn)
            outputs.write(frame, pred, detector.classes, f'{video.stem}_{index}')
            records.extend(dict(file_name=video.name, frame=index, **record)
                           for record in detector.records(pred))
            frames += 1
        writer.release()
        if frames == 0:
            raise InputError(f'source {video} has no readable frame')
        os.replace(tmp, out)
    finally:
        capture.release()
        writer.release()
        if osp.exists(tmp):
            os.remove(tmp)
    return records


def main() -> None:
    args = parse_args()
    flush_denormals_on_cpu()
    cfg = load_config(args.config, args.cfg_options, dict(
        nms_iou_thr=args.iou_thres, max_per_img=args.max_det,
        agnostic_nms=args.agnostic_nms))
    check_checkpoint_file(args.checkpoint)
    if args.classes is not None:
        bad = [c for c in args.classes if not 0 <= c < len(cfg.metainfo.classes)]
        if bad:
            raise InputError(f'--classes {bad[0]}: class indices are 0 to '
                             f'{len(cfg.metainfo.classes) - 1}')
    if args.line_thickness < 1:
        raise InputError('--line-thickness must be at least 1')
    is_video = (osp.isfile(args.source)
                and Path(args.source).suffix.lower() in VIDEO_SUFFIXES)
    if not is_video:
        images, root = find_images(args.source)
    out_dir = args.out_dir or osp.join(cfg.work_dir, 'detect')
    if args.slice:
        enable_sliced_inference(cfg, args.slice, args.overlap, args.tta)
    detector = Detector(cfg, args.checkpoint, args.tta or bool(args.slice), args.device,
                        args.score_thr, args.classes, args.line_thickness,
                        args.hide_labels, args.hide_conf)
    outputs = Outputs(out_dir, args.save_txt, args.save_conf, args.save_crop)
    if is_video:
        records = detect_video(detector, Path(args.source), outputs)
    else:
        records = detect_images(detector, images, root, outputs)
    json_file = osp.join(out_dir, 'detections.json')
    lines = ',\n'.join(json.dumps(r, ensure_ascii=False) for r in records)
    write_bytes_atomic(json_file, f'[\n{lines}\n]\n'.encode('utf-8'))
    print(f'{len(records)} boxes scoring >= {args.score_thr}: drawn in '
          f'{out_dir}, listed in {json_file}')


if __name__ == '__main__':
    run_cli(main)
