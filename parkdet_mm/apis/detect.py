"""The detect route: images, a folder, a glob or a video through the inferencer,
then YOLOv5 detect.py's outputs.

:func:`detect_source` is ``tools/detect.py``: it finds the images SOURCE names (or
reads a video frame by frame), runs them through a
:class:`~parkdet_mm.apis.YOLOv5Inferencer`, keeps the boxes scoring at least the
threshold, and writes each picture with its boxes drawn, ``detections.json`` and,
as YOLOv5's options ask, label files and crops (:class:`DetectionOutputs`).
"""
import glob
import json
import os
import os.path as osp
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from tqdm import tqdm

from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError
from parkdet_challenge.yolo_txt import label_lines, write_label_file
from parkdet_mm.engine.checkpoint import check_checkpoint_file

from .inferencer import YOLOv5Inferencer
from .sliced import enable_sliced_inference

IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'}
VIDEO_SUFFIXES = {'.mp4', '.avi', '.mov', '.mkv', '.m4v', '.mpg', '.mpeg',
                  '.wmv'}


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


def is_video(source: str) -> bool:
    """Whether SOURCE is a video file (by its suffix)."""
    return osp.isfile(source) and Path(source).suffix.lower() in VIDEO_SUFFIXES


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


class DetectionOutputs:
    """What detect writes into ``out_dir``, each file atomically: the pictures with
    their boxes drawn (by the caller), ``detections.json`` (:meth:`add` collects
    its records, :meth:`write_records` writes it) and, as YOLOv5 detect.py's
    options ask, ``labels/STEM.txt`` (``save_txt``, with the score: ``save_conf``)
    and ``crops/CLASS/STEM.jpg`` (``save_crop``)."""

    def __init__(self, out_dir: str, classes: Sequence[str], save_txt: bool = False,
                 save_conf: bool = False, save_crop: bool = False) -> None:
        self.out_dir = out_dir
        self.classes = tuple(classes)
        self.save_txt, self.save_conf, self.save_crop = save_txt, save_conf, save_crop
        self.records: List[dict] = []

    def add(self, image: np.ndarray, pred: InstanceData, stem: str, **where) -> None:
        """``image``'s detections ``pred``: their records (with ``where``, e.g.
        ``file_name`` and ``frame``), label file and crops."""
        height, width = image.shape[:2]
        if self.save_txt:
            write_label_file(osp.join(self.out_dir, 'labels'), stem, label_lines(
                pred.bboxes, pred.labels, width, height,
                pred.scores if self.save_conf else None))
        if self.save_crop:
            for box, label in zip(pred.bboxes.tolist(), pred.labels.tolist()):
                save_crop(image, box, osp.join(self.out_dir, 'crops',
                                               self.classes[label], f'{stem}.jpg'))
        self.records.extend(
            dict(where, bbox=[round(float(v), 1) for v in box],
                 category=self.classes[int(label)], score=round(float(score), 4))
            for box, label, score in zip(pred.bboxes, pred.labels, pred.scores))

    @property
    def json_file(self) -> str:
        return osp.join(self.out_dir, 'detections.json')

    def write_records(self) -> None:
        """Write ``detections.json``, one record a line."""
        lines = ',\n'.join(json.dumps(r, ensure_ascii=False) for r in self.records)
        write_bytes_atomic(self.json_file, f'[\n{lines}\n]\n'.encode('utf-8'))


class Detector:
    """One image at a time through the inferencer: its detections scoring at least
    ``score_thr`` and the image with them drawn."""

    def __init__(self, inferencer: YOLOv5Inferencer, score_thr: float) -> None:
        self.inferencer = inferencer
        self.score_thr = score_thr

    def __call__(self, image: np.ndarray) -> Tuple[InstanceData, np.ndarray]:
        """Detections of a BGR image and the image with them drawn (BGR)."""
        model = self.inferencer.model
        if hasattr(model, 'predict_image'):  # sliced: the tiles cut from the array
            with torch.no_grad():
                pred = model.predict_image(image).cpu()
        else:
            batch = next(iter(self.inferencer.preprocess([image], batch_size=1)))[1]
            pred = self.inferencer.forward(batch)[0].pred_instances.cpu()
        pred = pred[pred.scores >= self.score_thr]
        return pred, self.inferencer.draw(image, pred)


def detect_images(detector: Detector, images: List[Path], root: Path,
                  outputs: DetectionOutputs) -> None:
    """Draw every readable image into the output folder, its outputs added.
    An unreadable image among several is skipped with a warning naming it."""
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
        outputs.add(image, pred, osp.splitext(name)[0], file_name=name)


def video_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame


def detect_video(detector: Detector, video: Path, outputs: DetectionOutputs) -> None:
    """Draw every frame into ``OUT_DIR/STEM.mp4``; outputs added per frame."""
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
    try:
        frames = 0
        for index, frame in enumerate(
                tqdm(video_frames(capture), desc='detect', unit='frame',
                     total=total)):
            pred, drawn = detector(frame)
            writer.write(drawn)
            outputs.add(frame, pred, f'{video.stem}_{index}', file_name=video.name,
                        frame=index)
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


def detect_source(cfg: Config, checkpoints: Sequence[str], source: str,
                  out_dir: Optional[str] = None, score_thr: float = 0.25,
                  classes: Optional[Sequence[int]] = None, save_txt: bool = False,
                  save_conf: bool = False, save_crop: bool = False,
                  slice_size: Optional[int] = None, overlap: float = 0.2,
                  **inferencer_kwargs) -> DetectionOutputs:
    """Detect on SOURCE (an image, a folder searched recursively, a glob or a video)
    with ``checkpoints`` (several: fused) and write the outputs into ``out_dir``
    (default ``WORK_DIR/detect``): the pictures drawn, ``detections.json`` (boxes
    scoring at least ``score_thr``; of the class indices ``classes`` only, filtered
    before NMS as YOLOv5 does) and, as asked, YOLOv5's label files and crops.
    ``inferencer_kwargs`` go to :class:`YOLOv5Inferencer` (``tta``, ``device``,
    ``half``, ``ensemble``, ``wbf_iou``, the drawing's ``line_thickness``,
    ``hide_labels``, ``hide_conf``). With ``slice_size`` the model also runs on
    tiles of that size overlapping by ``overlap`` (one checkpoint). Bad input is an
    InputError before anything runs."""
    for checkpoint in checkpoints:
        check_checkpoint_file(checkpoint)
    names = cfg.metainfo['classes']
    bad = [c for c in classes or () if not 0 <= c < len(names)]
    if bad:
        raise InputError(f'--classes {bad[0]}: class indices are 0 to {len(names) - 1}')
    if inferencer_kwargs.get('line_thickness', 1) < 1:
        raise InputError('--line-thickness must be at least 1')
    if slice_size:
        if len(checkpoints) > 1:
            raise InputError('--slice takes one checkpoint in detect')
        enable_sliced_inference(cfg, slice_size, overlap,
                                inferencer_kwargs.get('tta', False))
        inferencer_kwargs['tta'] = True  # the sliced model in the TTA model's place
    video = is_video(source)
    if not video:
        images, root = find_images(source)
    outputs = DetectionOutputs(out_dir or osp.join(cfg.work_dir, 'detect'), names,
                               save_txt, save_conf, save_crop)
    detector = Detector(YOLOv5Inferencer(cfg, checkpoints, classes=classes,
                                         show_progress=False, **inferencer_kwargs),
                        score_thr)
    if video:
        detect_video(detector, Path(source), outputs)
    else:
        detect_images(detector, images, root, outputs)
    outputs.write_records()
    return outputs
