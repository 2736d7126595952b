"""What epoch parts and image weights cost.

    python benchmarks/bench_sampler.py [CONFIG] [--data-root DIR] [--epochs 3]
        [--weights-only]

(a) ``image_weights`` on a 120,000 x 14 count matrix (the goal: under 50 ms),
    ``class_count_matrix`` on a 120,000-image mmengine dataset (once per run), and
    one epoch's draw of EpochPartSampler on that dataset in 15 parts.
(b) A short training run of CONFIG (default ``configs/demo/baseline.py``: its
    EpochPartSampler and ClassBalanceHook) beside the same config with mmengine's
    ``DefaultSampler`` and no ClassBalanceHook. Both runs time every call of the
    samplers' ``__iter__`` and the hook's methods; the sampler-and-hook cost per
    training iteration, beyond what DefaultSampler costs, is set against the plain
    run's time per iteration (the goal: under 2%). The first epoch of each run is
    warm-up (workers start, caches fill) and is left out of the per-iteration times.
    Without ``--data-root`` the demo data set is made in a temporary folder with
    ``tools/make_demo_data.py`` and ``tools/prepare_data.py``.
"""
import argparse
import copy
import functools
import os.path as osp
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np
from mmengine.config import Config
from mmengine.dataset import BaseDataset, DefaultSampler
from mmengine.hooks import Hook
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401  (registers the sampler and the hook)
from parkdet_mm.datasets import EpochPartSampler, class_count_matrix, image_weights
from parkdet_mm.engine.hooks import ClassBalanceHook

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def best_ms(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


class SyntheticBoxes(BaseDataset):
    """120,000 images' annotations in MMDetection's format, serialized as usual."""

    def __init__(self, counts):
        self._counts = counts
        super().__init__(metainfo=dict(classes=tuple(map(str, range(14)))))

    def load_data_list(self):
        return [
            dict(img_path=f'{index}.png',
                 instances=[dict(bbox=[0, 0, 8, 8], bbox_label=int(label),
                                 ignore_flag=0)
                            for label in np.repeat(np.arange(14), row)])
            for index, row in enumerate(self._counts)
        ]


def bench_weights():
    counts = np.random.default_rng(0).poisson(0.4, size=(120_000, 14))
    maps = np.linspace(0.1, 0.6, 14)
    ms = best_ms(lambda: image_weights(counts, maps), repeats=20)
    print(f'(a) image_weights, 120,000 x 14 counts: {ms:.1f} ms (best of 20)')
    dataset = SyntheticBoxes(counts)
    ms = best_ms(lambda: class_count_matrix(dataset), repeats=1)
    print(f'    class_count_matrix, 120,000 images ({counts.sum():,} boxes): '
          f'{ms / 1000:.2f} s, once per run')
    sampler = EpochPartSampler(dataset, parts=15, seed=0)
    epoch = iter(range(1, 10**6))  # a new epoch each time: some straddle passes

    def draw():
        sampler.set_epoch(next(epoch))
        list(sampler)

    passes = best_ms(draw, repeats=20)
    weighted = best_ms(lambda: sampler.set_weights(image_weights(counts, maps)),
                       repeats=20)
    weighted += best_ms(draw, repeats=20)
    print(f'    one epoch of EpochPartSampler, 120,000 images in 15 parts: '
          f'{passes:.1f} ms unweighted, {weighted:.1f} ms weighted (with '
          'image_weights and set_weights)')


class Stopwatch:
    """Adds up the time spent in chosen methods, patched on their classes."""

    def __init__(self, targets):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        for owner, name in targets:
            self._wrap(owner, name)

    def _wrap(self, owner, name):
        original = getattr(owner, name)
        label = f'{owner.__name__}.{name}'

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        setattr(owner, name, timed)


class EpochClock(Hook):
    """Times each epoch from the first before_train_epoch hook to the first
    after_train_epoch hook (data loading, steps and every other hook, no saving),
    and counts the boxes trained on, which weighted draws raise."""
    priority = 'HIGHEST'

    def __init__(self):
        self.epochs = []
        self.boxes = 0

    def before_train_epoch(self, runner):
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        samples = data_batch['data_samples']
        if isinstance(samples, dict):  # yolov5_collate: one (boxes, 6) tensor
            self.boxes += len(samples['bboxes_labels'])
        else:
            self.boxes += sum(len(sample.gt_instances) for sample in samples)

    def after_train_epoch(self, runner):
        self.epochs.append(
            (time.perf_counter() - self._start, len(runner.train_dataloader)))


def make_demo_data(folder):
    data = osp.join(folder, 'data')
    for command in ([osp.join(REPO, 'tools/make_demo_data.py'), data],
                    [osp.join(REPO, 'tools/prepare_data.py'), '--data-root', data,
                     '--out-dir', data, '--val-size', '80', '--no-plot']):
        subprocess.run([sys.executable, *command], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
    return data + '/'


def train(cfg, work_dir, epochs, plain):
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    # mmengine keeps one visualizer per name: a second runner would reuse the first
    # one's, which writes into the first (deleted) work dir.
    cfg.visualizer.name = f'bench_sampler_{"plain" if plain else "parts"}'
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs,
                         val_interval=epochs + 1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.default_hooks.param_scheduler.max_epochs = epochs
    if plain:
        cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
        cfg.custom_hooks = [
            hook for hook in cfg.custom_hooks
            if hook['type'] != 'ClassBalanceHook'
        ]
    runner = Runner.from_cfg(cfg)
    clock = EpochClock()
    runner.register_hook(clock)
    runner.train()
    warm = clock.epochs[1:]
    seconds_per_iter = sum(s for s, _ in warm) / sum(n for _, n in warm)
    iters = sum(n for _, n in clock.epochs)
    return seconds_per_iter, iters, clock.boxes / iters


def bench_training(config, data_root, epochs):
    cfg = Config.fromfile(config)
    cfg.train_dataloader.dataset.data_root = data_root
    stopwatch = Stopwatch([(EpochPartSampler, '__iter__'),
                           (DefaultSampler, '__iter__'),
                           (ClassBalanceHook, 'before_train'),
                           (ClassBalanceHook, 'before_train_epoch')])
    results = {}
    for plain, label in ((False, 'epoch-part'), (True, 'default')):
        before = dict(stopwatch.seconds)
        # DefaultSampler epochs are `parts` times longer: fewer give as many steps.
        run_epochs = 2 if plain else epochs
        with tempfile.TemporaryDirectory() as work_dir:
            per_iter, iters, boxes = train(cfg, work_dir, run_epochs, plain)
        spent = {k: v - before.get(k, 0.0) for k, v in stopwatch.seconds.items()}
        results[label] = (per_iter, iters, boxes, spent)

    ours_per_iter, ours_iters, ours_boxes, ours = results['epoch-part']
    plain_per_iter, plain_iters, plain_boxes, plain = results['default']
    per_epoch = (ours['EpochPartSampler.__iter__'] +
                 ours['ClassBalanceHook.before_train_epoch']) / ours_iters
    once = ours['ClassBalanceHook.before_train'] / ours_iters
    baseline = plain['DefaultSampler.__iter__'] / plain_iters
    extra = per_epoch + once - baseline
    # Other work on a shared machine inflates either run's wall clock; the faster
    # one is the harder yardstick.
    iteration = min(ours_per_iter, plain_per_iter)
    print(f'(b) {osp.relpath(config, REPO)}, {ours_iters} + {plain_iters} '
          'training iterations:')
    print(f'    time per iteration: EpochPartSampler + ClassBalanceHook '
          f'{ours_per_iter * 1000:.0f} ms, DefaultSampler '
          f'{plain_per_iter * 1000:.0f} ms (wall clock, after warm-up; '
          f'{(ours_per_iter / plain_per_iter - 1):+.1%}; boxes per iteration '
          f'{ours_boxes:.1f} vs {plain_boxes:.1f}; other load on the machine '
          'included)')
    print(f'    sampler + hook per iteration: {per_epoch * 1000:.3f} ms per-epoch '
          f'work + {once * 1000:.3f} ms count matrix (once, spread over the run); '
          f'DefaultSampler {baseline * 1000:.3f} ms')
    print(f'    overhead beyond DefaultSampler: {extra * 1000:.3f} ms per '
          f'iteration = {extra / iteration:.3%} of the faster run\'s iteration '
          f'({iteration * 1000:.0f} ms; goal: < 2%)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', nargs='?',
                        default=osp.join(REPO, 'configs/demo/baseline.py'))
    parser.add_argument('--data-root',
                        help='prepared demo data (default: made in a temp folder)')
    parser.add_argument('--epochs', type=int, default=3,
                        help='epochs of the epoch-part run (3; the first is warm-up)')
    parser.add_argument('--weights-only', action='store_true',
                        help='only (a), no training')
    args = parser.parse_args()
    bench_weights()
    if args.weights_only:
        return
    if args.data_root:
        bench_training(args.config, args.data_root, args.epochs)
        return
    with tempfile.TemporaryDirectory() as folder:
        bench_training(args.config, make_demo_data(folder), args.epochs)


if __name__ == '__main__':
    main()
