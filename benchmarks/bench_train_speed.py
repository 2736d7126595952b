"""Training throughput and memory of a config, e.g. the real baseline on a GPU.

    python benchmarks/bench_train_speed.py configs/baseline.py --amp [--iters 30] [--warmup 5]

Trains the config's own model, pipeline and batch size for a few iterations on the
demo data (made here if missing: tools/make_demo_data.py + tools/prepare_data.py;
nothing is downloaded, so the weights start random) and prints images per second over
the timed iterations and the peak GPU memory. The reference: 2 images per 2.52 s on
one T4 in fp32 (docs/reference.md section 5). Record what it prints in benchmarks/RESULTS.md.
"""
import argparse
import os.path as osp
import subprocess
import sys
import time

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401
from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
from parkdet_mm.config import load_config
from parkdet_mm.engine.optimizers import amp_variant


class IterationClock(Hook):
    """Wall time of each training iteration (synchronised with the GPU)."""

    def __init__(self) -> None:
        self.times = []
        self.images = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self.start)
        self.images.append(len(data_batch['inputs']))


def ensure_demo_data(root: str) -> None:
    if not osp.isfile(osp.join(root, 'annotations', 'train.json')):
        for args in (['tools/make_demo_data.py', root],
                     ['tools/prepare_data.py', '--data-root', root, '--out-dir', root,
                      '--val-size', '80']):
            subprocess.run([sys.executable, *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default='configs/baseline.py')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--data-root', default='data/demo')
    args = parser.parse_args()
    ensure_demo_data(args.data_root)
    flush_denormals_on_cpu()

    cfg = load_config(args.config)
    cfg.work_dir = 'work_dirs/bench_train_speed'
    cfg.load_from = None
    data_root = args.data_root.rstrip('/') + '/'
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.dataset.ann_file = 'annotations/train.json'
    # one "epoch" of exactly warmup + iters batches, no validation, no checkpoint
    batch = cfg.train_dataloader.batch_size
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'ClassBalanceHook']
    cfg.train_cfg = dict(type='IterBasedTrainLoop',
                         max_iters=args.warmup + args.iters, val_interval=10**9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9)
    cfg.default_hooks.param_scheduler.max_epochs = 1
    if args.amp:
        cfg.optim_wrapper.type = amp_variant(cfg.optim_wrapper.type)
        cfg.optim_wrapper.loss_scale = 'dynamic'

    runner = Runner.from_cfg(cfg)
    clock = IterationClock()
    runner.register_hook(clock, priority='LOWEST')
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runner.train()

    times, images = clock.times[args.warmup:], clock.images[args.warmup:]
    device = (torch.cuda.get_device_name() if torch.cuda.is_available() else
              f'CPU ({torch.get_num_threads()} threads)')
    print(f'{args.config}: batch {batch}, {cfg.img_scale[0]} px, '
          f'{"AMP" if args.amp else "fp32"}, {device}')
    print(f'{sum(images)} images in {sum(times):.2f} s over {len(times)} '
          f'iterations: {sum(images) / sum(times):.2f} images/s, '
          f'{sum(times) / len(times):.3f} s per iteration')
    if torch.cuda.is_available():
        print(f'peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB '
              f'allocated, {torch.cuda.max_memory_reserved() / 2**30:.2f} GiB reserved')
    print('reference: 2 images per 2.52 s = 0.79 images/s on one T4, fp32')


if __name__ == '__main__':
    main()
