"""How fast a model runs: images per second of the model alone and of the predict path.

    python tools/benchmark.py CONFIG [CHECKPOINT] [--img-size 1280] [--batch-size 8]
        [--amp | --half] [--tta] [--images DIR] [--warmup 2] [--repeats 5] [--iters 5]
        [--device cuda|cpu] [--backend pytorch|onnxruntime|openvino]

Prints the device and versions, then, after --warmup untimed passes, the median of
--repeats timed runs (each --iters batches) of:
- the model alone: the detector's tensor forward (backbone, neck, head) on a ready
  (B, 3, N, N) batch;
- the predict path: what tools/predict.py runs per batch after loading (the data
  preprocessor, the model, with --tta YOLOv5's three views, decoding and NMS) on
  batches the config's test pipeline made from --images (real images, the first
  B found) or from generated ones (grey noise with coloured boxes), with where
  its time goes (InferenceTimer's stages).
--backend onnxruntime or openvino runs the network there (CPU; exported on demand,
cached beside CHECKPOINT). On CUDA, --amp runs both under fp16 autocast, --half
with the network in FP16 (YOLOv5's --half: weights and activations). Without
CHECKPOINT the model keeps its initial weights: the model's speed is the same, but
NMS sees the boxes of an untrained model (usually fewer), so the predict path is
best measured with one.
"""
import argparse
import os.path as osp
import platform
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, List

import cv2
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import Compose, pseudo_collate

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.run_setup import (
    add_device_args,
    check_device_args,
    flush_denormals_on_cpu,
)
from parkdet_mm.config import load_config
from parkdet_mm.engine.checkpoint import check_checkpoint_file
from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.models import half_precision

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--img-size', type=int,
                        help="N: batches of N x N (default: the config's test size)")
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--amp', action='store_true',
                        help='fp16 autocast (CUDA only)')
    parser.add_argument('--tta', action='store_true',
                        help="the predict path with YOLOv5's TTA")
    parser.add_argument('--images', help='a folder of real images to use')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--iters', type=int, default=5,
                        help='batches per timed run')
    add_device_args(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def versions(device: str) -> str:
    """The device and the stack's versions, one line each."""
    import mmcv
    import mmdet
    import mmengine

    import mmyolo
    if device.startswith('cuda'):
        name = (f'{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, '
                f'cuDNN {torch.backends.cudnn.version()}')
    else:
        name = f'CPU ({platform.processor() or platform.machine()}), ' \
               f'{torch.get_num_threads()} torch threads'
    return (f'device: {name}\n'
            f'torch {torch.__version__}, mmengine {mmengine.__version__}, mmcv '
            f'{mmcv.__version__}, mmdet {mmdet.__version__}, mmyolo '
            f'{mmyolo.__version__}, Python {platform.python_version()}')


def write_generated_images(folder: str, count: int, size: int) -> List[str]:
    """``count`` images of grey noise with a few coloured boxes, ``size`` wide and
    3/4 as high (the challenge's aspect), as PNG files in ``folder``."""
    rng = np.random.default_rng(0)
    height = size * 3 // 4
    paths = []
    for i in range(count):
        image = rng.integers(90, 140, (height, size, 3), dtype=np.uint8)
        for _ in range(5):
            x, y = rng.integers(0, size // 2), rng.integers(0, height // 2)
            w, h = rng.integers(size // 16, size // 3, 2)
            image[y:y + h, x:x + w] = rng.integers(0, 255, 3)
        path = osp.join(folder, f'generated_{i}.png')
        cv2.imwrite(path, image)
        paths.append(path)
    return paths


def find_images(folder: str, count: int) -> List[str]:
    """The first ``count`` images below ``folder`` (fewer are repeated)."""
    if not osp.isdir(folder):
        raise InputError(f'--images {folder} is not a folder')
    found = sorted(str(p) for p in Path(folder).rglob('*')
                   if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise InputError(f'--images {folder} holds no image '
                         f'({", ".join(IMAGE_SUFFIXES)})')
    return [found[i % len(found)] for i in range(count)]


def median_rate(run: Callable[[], None], images: int, repeats: int,
                warmup: int, sync: Callable[[], None]) -> float:
    """Images per second of ``run`` (``images`` per call): the median of
    ``repeats`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    sync()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        rates.append(images / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    args = parse_args()
    for name in ('batch_size', 'repeats', 'iters'):
        if getattr(args, name) < 1:
            raise InputError(f'--{name.replace("_", "-")} must be at least 1')
    device = check_device_args(args)
    if args.amp and not device.startswith('cuda'):
        raise InputError('--amp needs a CUDA device (fp16 autocast)')
    if args.backend != 'pytorch' and not args.checkpoint:
        raise InputError(f'--backend {args.backend} needs a CHECKPOINT (its export is '
                         'cached beside it)')
    flush_denormals_on_cpu()
    cfg = load_config(args.config, args.cfg_options, dict(
        test_img_scale=args.img_size and (args.img_size, args.img_size)))
    size = cfg.test_img_scale[0]
    if args.checkpoint:
        from parkdet_mm.apis import load_detector
        check_checkpoint_file(args.checkpoint)
        model = load_detector(cfg, args.checkpoint, args.tta, device, args.half,
                              args.backend)
    else:
        from mmengine.registry import init_default_scope

        from mmyolo.registry import MODELS
        init_default_scope('mmyolo')
        detector = MODELS.build(cfg.model)
        model = (MODELS.build(dict(**cfg.tta_model, module=detector))
                 if args.tta else detector)
        model = model.to(device).eval()
        if args.half:
            half_precision(model)
    detector = getattr(model, 'module', model)
    sync = (torch.cuda.synchronize if device.startswith('cuda')
            else (lambda: None))
    autocast = (torch.autocast('cuda', dtype=torch.float16) if args.amp
                else nullcontext())

    with tempfile.TemporaryDirectory() as tmp:
        paths = (find_images(args.images, args.batch_size) if args.images else
                 write_generated_images(tmp, args.batch_size, size))
        pipeline = Compose(cfg.test_pipeline)
        batch = pseudo_collate([pipeline(dict(img_path=p, img_id=i))
                                for i, p in enumerate(paths)])
    ready = detector.data_preprocessor(batch, False)['inputs']
    square = torch.zeros(args.batch_size, 3, size, size, device=ready.device,
                         dtype=ready.dtype)
    images = args.batch_size * args.iters

    def model_alone() -> None:
        for _ in range(args.iters):
            detector(square)

    def predict_path() -> None:
        for _ in range(args.iters):
            model.test_step(batch)

    print(versions(device))
    precision = 'fp16 autocast' if args.amp else 'fp16 (--half)' if args.half else 'fp32'
    print(f'{cfg.deepen_factor}/{cfg.widen_factor} (deepen/widen), batch '
          f'{args.batch_size}, {precision}, {args.backend} backend, '
          f'{"real" if args.images else "generated"} images; median of '
          f'{args.repeats} runs of {args.iters} batches after {args.warmup} '
          'untimed')
    with torch.no_grad(), autocast:
        alone = median_rate(model_alone, images, args.repeats, args.warmup, sync)
        print(f'model alone at {tuple(square.shape)}: {alone:.1f} images/s '
              f'({1000 / alone:.1f} ms per image)')
        path = median_rate(predict_path, images, args.repeats, args.warmup, sync)
        timer = InferenceTimer()
        with timer.timing([model]):
            start = time.perf_counter()
            predict_path()
            sync()
            timer.add_total(time.perf_counter() - start)
    print(f'predict path{" with TTA" if args.tta else ""} at '
          f'{tuple(ready.shape)}: {path:.1f} images/s ({1000 / path:.1f} ms per '
          'image)')
    print(f'one more run: {timer.line()}')


if __name__ == '__main__':
    run_cli(main)
