"""The training pipeline alone at 1280: today's, the new one, and with the image cache.

    python benchmarks/bench_pipeline.py [--images 40] [--samples 40] [--rounds 3]

Draws ``--images`` 1920x1080 PNGs with boxes into a temporary folder, builds the
training dataset of configs/baseline.py (1280, Mosaic, affine, HSV, flip, pack) on
them and times ``--samples`` pipeline outputs in this one process for four
variants, side by side (interleaved, ``--rounds`` times, best round kept):

- today: mmcv's LoadImageFromFile and MMYOLO's YOLOv5RandomAffine (warpPerspective);
- new: LoadImageFromFileOrCache and YOLOv5RandomAffineWarp, no cache;
- disk: the same with the disk cache (arrays beside the images, memory-mapped);
- ram: the same with the RAM cache.

Every variant draws the same random numbers. It prints images per second, the ratios
(new / today, disk / new, ram / new) and, separately, the affine step alone on
2560x2560 mosaics (ms per image, MMYOLO's vs ours). Record what it prints in
benchmarks/RESULTS.md.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401  (registers the transforms)
from mmyolo.datasets.transforms import YOLOv5RandomAffine
from mmyolo.registry import DATASETS
from parkdet_mm.datasets.transforms import YOLOv5RandomAffineWarp
from parkdet_mm.engine.hooks.image_cache_hook import attach_image_cache

CONFIG = 'configs/baseline.py'
SIZE = (1920, 1080)


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


def build_dataset(root: Path, ann: Path, today: bool):
    cfg = Config.fromfile(CONFIG)
    pipeline = cfg.train_dataloader.dataset.pipeline
    if today:
        renames = {'LoadImageFromFileOrCache': 'LoadImageFromFile',
                   'YOLOv5RandomAffineWarp': 'YOLOv5RandomAffine'}
        for t in pipeline + [p for t in pipeline
                             for p in t.get('pre_transform', [])]:
            t['type'] = renames.get(t['type'], t['type'])
    dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=str(root) + '/',
                       ann_file=str(ann), pipeline=pipeline)
    return DATASETS.build(dataset_cfg)


def time_samples(dataset, samples: int) -> float:
    """Images per second over ``samples`` outputs, with fixed random draws."""
    np.random.seed(0)
    start = time.perf_counter()
    for i in range(samples):
        dataset[i % len(dataset)]
    return samples / (time.perf_counter() - start)


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
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one process, one thread: a dataloader worker's share
    torch.set_num_threads(1)
    init_default_scope('mmyolo')
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann = draw_images(root, args.images)
        files = sorted(str(p) for p in (root / 'images').glob('*.png'))
        start = time.perf_counter()
        for name in files:
            cv2.imread(name)
        decode_ms = (time.perf_counter() - start) / len(files) * 1000
        variants = {
            'today': build_dataset(root, ann, today=True),
            'new': build_dataset(root, ann, today=False),
            'disk': build_dataset(root, ann, today=False),
            'ram': build_dataset(root, ann, today=False),
        }
        # the size the config's ImageCacheHook caches at (its Mosaic's img_scale)
        scale = Config.fromfile(CONFIG).default_hooks.image_cache.scale
        for mode in ('disk', 'ram'):
            start = time.perf_counter()
            attach_image_cache(variants[mode], mode, scale)
            print(f'{mode} cache built in {time.perf_counter() - start:.1f} s')
        speed = {name: 0.0 for name in variants}
        for _ in range(args.rounds):
            for name, dataset in variants.items():
                speed[name] = max(speed[name],
                                  time_samples(dataset, args.samples))
    print(f'{args.samples} samples of {args.images} 1920x1080 PNGs '
          f'({decode_ms:.1f} ms to decode one) at 1280, one process, best of '
          f'{args.rounds} rounds (images/s):')
    for name, value in speed.items():
        print(f'  {name:6s} {value:6.2f}')
    print(f'new / today: {speed["new"] / speed["today"]:.2f}x   '
          f'disk / new: {speed["disk"] / speed["new"]:.2f}x   '
          f'ram / new: {speed["ram"] / speed["new"]:.2f}x')
    theirs, ours = time_affine()
    print(f'affine step on a 2560x2560 mosaic: YOLOv5RandomAffine {theirs:.1f} ms, '
          f'YOLOv5RandomAffineWarp {ours:.1f} ms ({theirs - ours:.1f} ms saved '
          'per image)')


if __name__ == '__main__':
    main()
