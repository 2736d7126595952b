"""The training pipeline alone at 1280, uncached and cached, beside YOLOv5's loader.

    python benchmarks/bench_pipeline.py [--images 40] [--samples 40] [--rounds 5]
        [--yolov5-python /path/to/yolov5-venv/bin/python]

Draws ``--images`` 1920x1080 PNGs with boxes into a temporary folder, builds the
training dataset of configs/baseline.py (1280, Mosaic, affine, HSV, flip, pack) on
them and times ``--samples`` pipeline outputs in this one process, one thread (a
dataloader worker's share), for each variant, side by side (interleaved,
``--rounds`` times, best round kept):

- mmyolo: mmcv's LoadImageFromFile and MMYOLO's YOLOv5RandomAffine
  (warpPerspective), as MMYOLO's own configs;
- cv2: LoadImageFromFileOrCache decoding with OpenCV, YOLOv5RandomAffineWarp;
- spng: the same decoding PNGs with libspng (pyspng; the default);
- cv2 one-warp, spng one-warp: with ``mosaic_one_warp=True`` (one warp per tile);
- disk, ram: the default pipeline with the disk or the RAM image cache;
- yolov5 (``--yolov5-python PY``): YOLOv5's own training dataset
  (``LoadImagesAndLabels``: load_mosaic, random_perspective, HSV, flips) on the
  same images and boxes, run by benchmarks/yolov5_clock.py with interpreter PY (an
  environment that holds YOLOv5, e.g. PyPI's ``yolov5==7.0.14`` in a scratch
  virtual environment outside this repository), in its own process, one thread.

Every variant of ours draws the same random numbers. It prints images per second
by the wall clock and by the process's CPU time (which other load on the machine
inflates less), the ratios of both, and the affine step alone on 2560x2560
mosaics (ms per image, MMYOLO's vs ours). Record what it prints in
benchmarks/RESULTS.md.
"""
import argparse
import copy
import json
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401  (registers the transforms)
from mmyolo.datasets.transforms import YOLOv5RandomAffine
from mmyolo.registry import DATASETS
from parkdet_mm.config import load_config
from parkdet_mm.datasets.png_decoding import decode_png_bgr
from parkdet_mm.datasets.transforms import YOLOv5RandomAffineWarp
from parkdet_mm.engine.hooks.image_cache_hook import attach_image_cache

CONFIG = 'configs/baseline.py'
SIZE = (1920, 1080)
# variant: (mosaic_one_warp, png_decoder, MMYOLO's own loading and affine)
VARIANTS = {
    'mmyolo': (False, 'cv2', True),
    'cv2': (False, 'cv2', False),
    'spng': (False, 'spng', False),
    'cv2 one-warp': (True, 'cv2', False),
    'spng one-warp': (True, 'spng', False),
    'disk': (False, 'spng', False),
    'ram': (False, 'spng', False),
}


def draw_images(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` PNGs like road-camera frames (smooth background, noise, boxes)."""
    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True)
    width, height = SIZE
    y, x = np.mgrid[0:height, 0:width]
    images, annotations = [], []
    for i in range(count):
        base = ((x * rng.uniform(0.05, 0.2) + y * rng.uniform(0.05, 0.2)) % 256)
        img = np.stack([base, np.roll(base, 50, 1), base[::-1]], -1)
        img = (img + rng.normal(0, 2, img.shape)).clip(0, 255).astype(np.uint8)
        for _ in range(int(rng.integers(5, 15))):
            w, h = (int(v) for v in rng.integers(30, 300, 2))
            x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), colour, -1)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i + 1,
                category_id=int(rng.integers(1, 15)), bbox=[x0, y0, w, h],
                area=w * h, iscrowd=0))
        name = f'images/{i:04d}.png'
        cv2.imwrite(str(root / name), img)
        images.append(dict(id=i + 1, file_name=name, width=width, height=height))
    ann = root / 'train.json'
    ann.write_text(json.dumps(dict(
        images=images, annotations=annotations,
        categories=[dict(id=k, name=str(k)) for k in range(1, 15)])))
    return ann


def build_dataset(root: Path, ann: Path, variant: str):
    one_warp, png_decoder, mmyolo = VARIANTS[variant]
    cfg = load_config(CONFIG, primaries=dict(mosaic_one_warp=one_warp))
    # a copy: the loaded config's transforms may be shared with later loads
    pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    mosaic = next(t for t in pipeline if 'Mosaic' in t['type'])
    for t in pipeline + mosaic['pre_transform']:
        if t['type'] == 'LoadImageFromFile' and not mmyolo:
            # what ImageCacheHook makes of the configs' loading in training
            t.update(type='LoadImageFromFileOrCache', png_decoder=png_decoder)
        elif t['type'] == 'YOLOv5RandomAffineWarp' and mmyolo:
            t['type'] = 'YOLOv5RandomAffine'
    dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=str(root) + '/',
                       ann_file=str(ann), pipeline=pipeline)
    return DATASETS.build(dataset_cfg)


def time_samples(dataset, samples: int) -> tuple:
    """Images per second over ``samples`` outputs, with fixed random draws: by the
    wall clock and by this process's CPU time."""
    np.random.seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(samples):
        dataset[i % len(dataset)]
    return (samples / (time.perf_counter() - start),
            samples / (time.process_time() - cpu))


def time_yolov5(python: str, root: Path, ann: Path, samples: int) -> tuple:
    """Images per second of YOLOv5's loader at the config's size, run by
    benchmarks/yolov5_clock.py with interpreter ``python``: by the wall clock and by
    its process's CPU time."""
    size = load_config(CONFIG).img_scale[0]
    proc = subprocess.run(
        [python, 'benchmarks/yolov5_clock.py', 'loader', '--ann-file', str(ann),
         '--images-root', str(root), '--img-size', str(size),
         '--samples', str(samples)], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{')]
    if not lines:
        raise RuntimeError(f'YOLOv5 loader failed (exit {proc.returncode}):\n'
                           f'{(proc.stdout + proc.stderr)[-3000:]}')
    result = json.loads(lines[-1])
    return (result['images'] / result['seconds'],
            result['images'] / result['cpu_seconds'])


def time_decoders(files) -> tuple:
    """ms to decode one of ``files`` with OpenCV and with libspng."""
    datas = [Path(f).read_bytes() for f in files]
    times = []
    for decode in (lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR),
                   decode_png_bgr):
        start = time.perf_counter()
        for data in datas:
            assert decode(data) is not None
        times.append((time.perf_counter() - start) / len(datas) * 1000)
    return tuple(times)


def time_affine(repeats: int = 20) -> tuple:
    kwargs = dict(max_rotate_degree=0.0, max_translate_ratio=0.1,
                  scaling_ratio_range=(0.5, 1.5), max_shear_degree=0.0,
                  border=(-640, -640), border_val=(114, 114, 114))
    img = np.random.default_rng(0).integers(0, 255, (2560, 2560, 3), np.uint8)
    results = []
    for transform in (YOLOv5RandomAffine(**kwargs),
                      YOLOv5RandomAffineWarp(**kwargs)):
        np.random.seed(0)
        best = float('inf')
        for _ in range(3):
            inputs = [dict(img=img, gt_bboxes=HorizontalBoxes(
                torch.tensor([[100., 100., 900., 800.]])),
                gt_bboxes_labels=np.array([0]),
                gt_ignore_flags=np.array([False])) for _ in range(repeats)]
            start = time.perf_counter()
            for item in inputs:
                transform.transform(item)
            best = min(best, (time.perf_counter() - start) / repeats * 1000)
        results.append(best)
    return tuple(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=40)
    parser.add_argument('--samples', type=int, default=40)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--yolov5-python', metavar='PY',
                        help="also time YOLOv5's loader run by this interpreter")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one process, one thread: a dataloader worker's share
    torch.set_num_threads(1)
    init_default_scope('mmyolo')
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann = draw_images(root, args.images)
        files = sorted(str(p) for p in (root / 'images').glob('*.png'))
        decode_ms = time_decoders(files)
        variants = {name: build_dataset(root, ann, name) for name in VARIANTS}
        # the size the config's ImageCacheHook caches at
        scale = load_config(CONFIG).default_hooks.image_cache.scale
        for mode in ('disk', 'ram'):
            start = time.perf_counter()
            attach_image_cache(variants[mode], mode, scale)
            print(f'{mode} cache built in {time.perf_counter() - start:.1f} s')
        names = list(variants) + (['yolov5'] if args.yolov5_python else [])
        speed = {name: 0.0 for name in names}
        cpu_speed = {name: 0.0 for name in names}
        for _ in range(args.rounds):
            for name in names:
                wall, cpu = (time_yolov5(args.yolov5_python, root, ann, args.samples)
                             if name == 'yolov5' else
                             time_samples(variants[name], args.samples))
                speed[name] = max(speed[name], wall)
                cpu_speed[name] = max(cpu_speed[name], cpu)
    print(f'{args.samples} samples of {args.images} 1920x1080 PNGs at 1280, one '
          f'process, one thread, best of {args.rounds} rounds (images/s by the wall '
          'clock, and by the process\'s CPU time); decoding one PNG: OpenCV '
          f'{decode_ms[0]:.1f} ms, libspng {decode_ms[1]:.1f} ms')
    for name, value in speed.items():
        print(f'  {name:14s} {value:6.2f}   (CPU time: {cpu_speed[name]:6.2f})')
    ratios = [('spng', 'cv2'), ('spng one-warp', 'spng'), ('cv2 one-warp', 'cv2'),
              ('disk', 'spng'), ('ram', 'spng')]
    if args.yolov5_python:
        ratios = [(name, 'yolov5') for name in VARIANTS] + ratios
    for label, rates in (('wall clock', speed), ('CPU time', cpu_speed)):
        print(f'{label}: ' + '   '.join(f'{a} / {b}: {rates[a] / rates[b]:.2f}x'
                                        for a, b in ratios))
    theirs, ours = time_affine()
    print(f'affine step on a 2560x2560 mosaic: YOLOv5RandomAffine {theirs:.1f} ms, '
          f'YOLOv5RandomAffineWarp {ours:.1f} ms ({theirs - ours:.1f} ms saved '
          'per image)')


if __name__ == '__main__':
    main()
