"""Prediction's pipeline overhead against the bare model, and the cost of TTA.

    .venv/bin/python benchmarks/bench_predict.py [CONFIG] [CHECKPOINT] [--repeats 2]

Defaults: the demo finetune config and its final checkpoint (run `make demo` first),
no TTA, over the demo's 320 training images (the 60 test images are too few: the
one-off costs of building the model, loading the checkpoint and indexing the data set,
about 0.5 s, would dominate). "Predict" is what tools/predict.py runs per checkpoint:
the test dataloader (image loading, resize, letterbox, rectangular batches), the
model, its decoding and NMS, and the conversion of every image's boxes into
challenge records. "Bare forward" is the same model's forward on ready tensors of the
same batch size and input size, for the same number of images. "Predict with TTA"
is the same predict with YOLOv5's TTA (YOLOv5TTAModel: three views of each batch, one
NMS). All three run alternately in this process; the best time of each is printed, as
images per second, with the ratios predict / bare forward and TTA / no TTA.
"""
import argparse
import os.path as osp
import time

import torch
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401
from parkdet_challenge.submission import image_records
from parkdet_mm.apis import YOLOv5Inferencer
from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
from parkdet_mm.config import final_checkpoint, load_config

DEMO_CONFIG = 'configs/demo/finetune.py'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEMO_CONFIG)
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--ann-file', default='annotations/train.json',
                        help='images to predict, relative to the data root')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--img-size', type=int,
                        help="default: the config's test_img_scale")
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    flush_denormals_on_cpu()
    # the images to predict in the test loader's place; no workers: same process,
    # same cores as the model
    cfg = load_config(args.config, dict(test_ann_file=args.ann_file), dict(
        data_root=args.data_root, test_batch_size_per_gpu=args.batch_size,
        test_num_workers=0,
        test_img_scale=args.img_size and (args.img_size, args.img_size)))
    checkpoint = args.checkpoint or final_checkpoint(cfg)
    if not osp.isfile(checkpoint):
        raise SystemExit(f'error: {checkpoint} does not exist; run `make demo` first')
    img_size = cfg.test_img_scale[0]
    device = 'cpu'

    def predict(tta: bool = False) -> int:
        predictions = YOLOv5Inferencer(cfg, checkpoint, tta, device).predict_loader(
            Runner.build_dataloader(cfg.test_dataloader))
        for img_id, pred in predictions.items():
            image_records(img_id, pred.bboxes.numpy(), pred.scores.numpy(),
                          pred.labels.numpy() + 1)
        return len(predictions)

    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    init_default_scope('mmyolo')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(torch.load(checkpoint, weights_only=True)['state_dict'])

    def bare_forward(num_images: int) -> None:
        with torch.no_grad():
            for start in range(0, num_images, args.batch_size):
                n = min(args.batch_size, num_images - start)
                model(torch.rand(n, 3, img_size, img_size), mode='tensor')

    num_images = predict()  # warm-up: kernels, caches, file system
    predict(tta=True)
    bare_forward(args.batch_size)
    best_predict = best_tta = best_bare = float('inf')
    for _ in range(args.repeats):
        start = time.perf_counter()
        predict()
        best_predict = min(best_predict, time.perf_counter() - start)
        start = time.perf_counter()
        predict(tta=True)
        best_tta = min(best_tta, time.perf_counter() - start)
        start = time.perf_counter()
        bare_forward(num_images)
        best_bare = min(best_bare, time.perf_counter() - start)

    print(f'{num_images} images at {img_size} px, batch {args.batch_size}, '
          f'CPU, {torch.get_num_threads()} threads; best of {args.repeats}')
    print(f'predict (load + pipeline + model + NMS + records): '
          f'{best_predict:.2f} s, {num_images / best_predict:.1f} images/s')
    print(f'bare model forward:                               '
          f'{best_bare:.2f} s, {num_images / best_bare:.1f} images/s')
    print(f'predict with TTA:                                 '
          f'{best_tta:.2f} s, {num_images / best_tta:.1f} images/s')
    print(f'ratio predict / bare forward: {best_predict / best_bare:.2f}')
    print(f'ratio predict with TTA / without: {best_tta / best_predict:.2f} '
          '(goal <= 2.3)')


if __name__ == '__main__':
    main()
