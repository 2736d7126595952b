"""Detect objects in any images or a video with a checkpoint; draw and list them.

    python tools/detect.py CONFIG CHECKPOINT SOURCE [--out-dir DIR] [--tta]
        [--score-thr 0.25] [--device cpu|cuda[:N]]

SOURCE is an image, a folder (searched recursively), a glob pattern (quote it) or a
video file. Writes into --out-dir (default WORK_DIR/detect) each image with its boxes
drawn, under its path relative to SOURCE (or the video, drawn frame by frame, as
NAME.mp4), and detections.json: one record per box with the file name (and the
frame index for a video), the box ``[x1, y1, x2, y2]`` in pixels of the original
image, the class name and the score. Images run at the config's test size;
--tta adds YOLOv5's test-time augmentation (the config's tta_model).
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import warnings
from pathlib import Path
from typing import Iterator, List, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import Compose, pseudo_collate
from tqdm import tqdm

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from mmyolo.registry import VISUALIZERS
from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.cli import InputError, run_cli
from parkdet_mm.apis import load_detector
from parkdet_mm.config import load_config
from parkdet_mm.utils import check_checkpoint_file, flush_denormals_on_cpu

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
    parser.add_argument('--score-thr', type=float, default=0.25,
                        help='keep (list and draw) boxes scoring at least this')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
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


def kind(transform: dict) -> str:
    """A transform's type without its scope: ``mmdet.LoadAnnotations`` ->
    ``LoadAnnotations``."""
    return transform['type'].split('.')[-1]


class Detector:
    """The checkpoint, the config's test pipeline and a visualizer, per image."""

    def __init__(self, cfg, checkpoint: str, tta: bool, device: str,
                 score_thr: float) -> None:
        self.model = load_detector(cfg, checkpoint, tta, device)
        # The loader reads arrays, so images and video frames take one path.
        pipeline = [
            dict(type='mmdet.LoadImageFromNDArray')
            if kind(t).startswith('LoadImageFrom') else t
            for t in cfg.test_dataloader.dataset.pipeline
            if kind(t) != 'LoadAnnotations'
        ]
        self.pipeline = Compose(pipeline)
        self.classes = cfg.metainfo['classes']
        self.score_thr = score_thr
        self.visualizer = VISUALIZERS.build(
            dict(type='mmdet.DetLocalVisualizer', name='detect',
                 vis_backends=[]))
        self.visualizer.dataset_meta = dict(classes=self.classes)

    def __call__(self, image: np.ndarray) -> Tuple[list, np.ndarray]:
        """Detections of a BGR image as records, and the image drawn (BGR)."""
        data = self.pipeline(dict(img=image, img_id=0))
        with torch.no_grad():
            sample = self.model.test_step(pseudo_collate([data]))[0]
        pred = sample.pred_instances.cpu()
        sample.pred_instances = pred[pred.scores >= self.score_thr]
        records = [
            dict(bbox=[round(float(v), 1) for v in box],
                 category=self.classes[int(label)], score=round(float(score), 4))
            for box, label, score in zip(sample.pred_instances.bboxes,
                                         sample.pred_instances.labels,
                                         sample.pred_instances.scores)
        ]
        self.visualizer.add_datasample('detect', image[..., ::-1], sample,
                                       draw_gt=False, pred_score_thr=0)
        return records, self.visualizer.get_image()[..., ::-1]


def detect_images(detector: Detector, images: List[Path], root: Path,
                  out_dir: str) -> list:
    """Draw every readable image into ``out_dir``; records of all of them.
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
        found, drawn = detector(image)
        ok, encoded = cv2.imencode(path.suffix, drawn)
        write_bytes_atomic(osp.join(out_dir, name), encoded.tobytes())
        records.extend(dict(file_name=name, **record) for record in found)
    return records


def video_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def detect_video(detector: Detector, video: Path, out_dir: str) -> list:
    """Draw every frame into ``out_dir/STEM.mp4``; records with frame indices."""
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
            found, drawn = detector(frame)
            writer.write(drawn)
            records.extend(dict(file_name=video.name, frame=index, **record)
                           for record in found)
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
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint_file(args.checkpoint)
    is_video = (osp.isfile(args.source)
                and Path(args.source).suffix.lower() in VIDEO_SUFFIXES)
    if not is_video:
        images, root = find_images(args.source)
    out_dir = args.out_dir or osp.join(cfg.work_dir, 'detect')
    detector = Detector(cfg, args.checkpoint, args.tta, args.device,
                        args.score_thr)
    if is_video:
        records = detect_video(detector, Path(args.source), out_dir)
    else:
        records = detect_images(detector, images, root, out_dir)
    json_file = osp.join(out_dir, 'detections.json')
    lines = ',\n'.join(json.dumps(r, ensure_ascii=False) for r in records)
    write_bytes_atomic(json_file, f'[\n{lines}\n]\n'.encode('utf-8'))
    print(f'{len(records)} boxes scoring >= {args.score_thr}: drawn in '
          f'{out_dir}, listed in {json_file}')


if __name__ == '__main__':
    run_cli(main)
