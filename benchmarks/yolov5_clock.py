"""YOLOv5's own training loop and loader, timed as the benchmarks time ours.

Run by benchmarks/bench_train_speed.py and benchmarks/bench_pipeline.py with the
interpreter of an environment that holds YOLOv5 (``--yolov5-python``, e.g. a scratch
virtual environment outside this repository with PyPI's ``yolov5==7.0.14``, whose
model, loss and loop are v6.1's); never by the project's tests. It imports nothing
of this project: it reads the COCO annotation file the benchmark used, writes
YOLOv5's labels beside links to the same images in a temporary folder and prints
one JSON line of timings.

    PY benchmarks/yolov5_clock.py train --ann-file A.json --images-root DIR
        --model yolov5n6 --img-size 256 --batch-size 8 --workers 2 --threads 2
        --warmup 5 --iters 30
    PY benchmarks/yolov5_clock.py loader --ann-file A.json --images-root DIR
        --img-size 1280 --samples 40

``train`` runs YOLOv5's ``train.train`` (from scratch, the model's yaml with the
data set's classes, hyp.scratch-low, no validation, no checkpoints, no plots) and
records the wall time between the ends of consecutive iterations, data loading
included, and the main process's CPU time, as bench_train_speed.py records ours.
``loader`` builds YOLOv5's training dataset (``LoadImagesAndLabels``: mosaic,
random perspective, HSV, flips) and times ``--samples`` items in this one process,
one thread, as bench_pipeline.py times ours.
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def write_yolo_data(ann_file: str, images_root: str, folder: Path) -> Path:
    """Links to the annotated images under ``folder/images`` and YOLOv5's labels
    under ``folder/labels``; returns the data yaml."""
    coco = json.loads(Path(ann_file).read_text(encoding='utf-8'))
    categories = sorted(c['id'] for c in coco['categories'])
    class_of = {cat: i for i, cat in enumerate(categories)}
    names = {c['id']: c['name'] for c in coco['categories']}
    boxes = {}
    for ann in coco['annotations']:
        boxes.setdefault(ann['image_id'], []).append(ann)
    (folder / 'images').mkdir(parents=True)
    (folder / 'labels').mkdir()
    for i, image in enumerate(coco['images']):
        source = Path(images_root, image['file_name']).resolve()
        stem = f'{i:06d}'
        (folder / 'images' / f'{stem}{source.suffix}').symlink_to(source)
        width, height = image['width'], image['height']
        lines = [
            f'{class_of[a["category_id"]]} {(a["bbox"][0] + a["bbox"][2] / 2) / width:.6f} '
            f'{(a["bbox"][1] + a["bbox"][3] / 2) / height:.6f} '
            f'{a["bbox"][2] / width:.6f} {a["bbox"][3] / height:.6f}'
            for a in boxes.get(image['id'], [])
        ]
        (folder / 'labels' / f'{stem}.txt').write_text('\n'.join(lines))
    data = folder / 'data.yaml'
    data.write_text(json.dumps(dict(
        path=str(folder), train='images', val='images', nc=len(categories),
        names=[names[c] for c in categories])))
    return data


def time_training(args, folder: Path) -> dict:
    import torch
    from yolov5 import train as yolov5_train
    from yolov5.utils import general
    from yolov5.utils.callbacks import Callbacks
    from yolov5.utils.torch_utils import select_device
    # offline, from scratch: no font for the plots (which are off), no weights
    # from the Hugging Face hub
    general.check_font = lambda *args, **kwargs: None
    yolov5_train.attempt_download_from_hub = lambda *args, **kwargs: None
    root = Path(yolov5_train.__file__).parent
    data = write_yolo_data(args.ann_file, args.images_root, folder / 'data')
    opt = yolov5_train.parse_opt(True)
    for key, value in dict(
            data=str(data), cfg=str(root / 'models/hub' / f'{args.model}.yaml'),
            weights='', hyp=str(root / 'data/hyps/hyp.scratch-low.yaml'),
            epochs=100, batch_size=args.batch_size, imgsz=args.img_size,
            workers=args.workers, noval=True, nosave=True, noplots=True,
            device='cpu', project=str(folder), name='train', exist_ok=True,
            save_dir=str(folder / 'train')).items():
        setattr(opt, key, value)
    ends, cpu, images = [], [], []
    callbacks = Callbacks()

    def clock(model, ni, imgs, *rest):
        ends.append(time.perf_counter())
        cpu.append(time.process_time())
        images.append(len(imgs))
        if len(ends) >= args.warmup + args.iters:
            callbacks.stop_training = True

    callbacks.register_action('on_train_batch_end', 'clock', clock)
    torch.set_num_threads(args.threads)
    yolov5_train.train(opt.hyp, opt, select_device('cpu'), callbacks)
    start = args.warmup - 1
    return dict(seconds=ends[-1] - ends[start], cpu_seconds=cpu[-1] - cpu[start],
                images=sum(images[start + 1:]),
                iterations=len(ends) - 1 - start, threads=torch.get_num_threads())


def time_loader(args, folder: Path) -> dict:
    import cv2
    import numpy as np
    import torch
    import yaml
    from yolov5 import train as yolov5_train
    from yolov5.utils.dataloaders import LoadImagesAndLabels
    cv2.setNumThreads(1)  # one process, one thread: a dataloader worker's share
    torch.set_num_threads(1)
    root = Path(yolov5_train.__file__).parent
    hyp = yaml.safe_load((root / 'data/hyps/hyp.scratch-low.yaml').read_text())
    write_yolo_data(args.ann_file, args.images_root, folder / 'data')
    dataset = LoadImagesAndLabels(str(folder / 'data/images'), img_size=args.img_size,
                                  batch_size=8, augment=True, hyp=hyp, stride=64,
                                  workers=1)
    random.seed(0)
    np.random.seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(args.samples):
        dataset[i % len(dataset)]
    return dict(seconds=time.perf_counter() - start,
                cpu_seconds=time.process_time() - cpu, images=args.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=('train', 'loader'))
    parser.add_argument('--ann-file', required=True)
    parser.add_argument('--images-root', required=True)
    parser.add_argument('--img-size', type=int, required=True)
    parser.add_argument('--model', default='yolov5n6')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--samples', type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # YOLOv5 prints its progress; the timings are the last line on stdout
        result = (time_training if args.what == 'train' else time_loader)(
            args, Path(tmp))
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    os._exit(0)  # YOLOv5's loader threads and workers need not be waited for


if __name__ == '__main__':
    main()
