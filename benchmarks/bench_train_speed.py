"""Training throughput of a config, eager and compiled, beside YOLOv5's own train.py.

    python benchmarks/bench_train_speed.py configs/baseline.py --amp [--iters 30]
        [--warmup 5] [--compile] [--channels-last]
    python benchmarks/bench_train_speed.py configs/demo/baseline.py --compile
        --yolov5-python /path/to/yolov5-venv/bin/python [--threads 2] [--rounds 2]

Trains the config's own model, pipeline and batch size for ``--warmup`` +
``--iters`` iterations on the demo data (made here if missing:
tools/make_demo_data.py + tools/prepare_data.py; nothing is downloaded, so the
weights start random) and prints images per second over the timed iterations: the
wall time from the end of the last warm-up iteration to the end of the last one,
data loading included (MMEngine's dataloader and workers as configured), and the
peak GPU memory, and the main process's CPU time per iteration (all its threads;
the dataloader workers' not counted), which other load on the machine inflates
less than the wall time. Each run is a fresh process; the variants alternate for
``--rounds`` rounds and the best round of each is kept:

- ``eager``: the config as it is;
- ``compiled`` (``--compile``): ``tools/train.py --compile``, the network and the
  loss compiled by torch.compile (the compilation falls in the warm-up);
- ``channels-last`` (``--channels-last``): channels-last memory format, eager (and
  compiled too with ``--compile``);
- ``amp`` (``--amp``): each of the above again with ``tools/train.py --amp``:
  float16 with a loss scaler on a GPU, bfloat16 autocast on a CPU that computes it
  (AVX512-BF16 or AMX);
- ``yolov5`` (``--yolov5-python PY``): YOLOv5's own ``train.train`` run by
  benchmarks/yolov5_clock.py with interpreter PY (an environment that holds
  YOLOv5, e.g. PyPI's ``yolov5==7.0.14`` in a scratch virtual environment outside
  this repository), on the same images and classes, the same model size
  (yolov5{n,s,m,l,x}6 from the config's deepen and widen factors), image size,
  batch size, dataloader workers and threads, hyp.scratch-low, no validation,
  timed the same way. YOLOv5 accumulates gradients up to a nominal batch of 64,
  so ours trains with ``nominal_batch_size=64`` in this comparison (the demo
  configs step every batch).

Threads: ``--threads N`` sets torch's threads in every run (default: torch's own
default here). The reference: 2 images per 2.52 s on one T4 in fp32. Record what
it prints in benchmarks/RESULTS.md.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook

YOLOV5_NOMINAL_BATCH = 64
# YOLOv5's P6 models by (depth, width) multiple
YOLOV5_P6_MODELS = {(0.33, 0.25): 'yolov5n6', (0.33, 0.5): 'yolov5s6',
                    (0.67, 0.75): 'yolov5m6', (1.0, 1.0): 'yolov5l6',
                    (1.33, 1.25): 'yolov5x6'}


class IterationClock(Hook):
    """Per training iteration: its own time from start to end (``times``), the
    wall clock and this process's CPU time at its end (``ends``, ``cpu``) and its
    images; synchronised with the GPU."""
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.times: List[float] = []
        self.ends: List[float] = []
        self.cpu: List[float] = []
        self.images: List[int] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.ends.append(time.perf_counter())
        self.cpu.append(time.process_time())
        self.times.append(self.ends[-1] - self.start)
        self.images.append(len(data_batch['inputs']))


def ensure_demo_data(root: str) -> None:
    if not osp.isfile(osp.join(root, 'annotations', 'train.json')):
        for args in (['tools/make_demo_data.py', root],
                     ['tools/prepare_data.py', '--data-root', root, '--out-dir', root,
                      '--val-size', '80']):
            subprocess.run([sys.executable, *args], check=True)


def time_our_training(args) -> dict:
    """One run of the config (in this process): the timings as JSON-able dict."""
    from mmengine.runner import Runner

    import parkdet_mm  # noqa: F401
    from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
    from parkdet_mm.config import load_config
    from parkdet_mm.engine.optimizers import use_amp

    flush_denormals_on_cpu()
    if args.threads:
        torch.set_num_threads(args.threads)
    primaries = dict(compile_model=args.compile, channels_last=args.channels_last)
    if args.nominal_batch_size:
        primaries['nominal_batch_size'] = args.nominal_batch_size
    cfg = load_config(args.config, primaries=primaries)
    cfg.work_dir = 'work_dirs/bench_train_speed'
    cfg.load_from = None
    data_root = args.data_root.rstrip('/') + '/'
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.dataset.ann_file = 'annotations/train.json'
    # one "epoch" of exactly warmup + iters batches, no validation, no checkpoint
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'ClassBalanceHook']
    cfg.train_cfg = dict(type='IterBasedTrainLoop',
                         max_iters=args.warmup + args.iters, val_interval=10**9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9)
    cfg.default_hooks.param_scheduler.max_epochs = 1
    if args.amp:
        use_amp(cfg.optim_wrapper)

    runner = Runner.from_cfg(cfg)
    clock = IterationClock()
    runner.register_hook(clock, priority='LOWEST')
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    start = args.warmup - 1
    result = dict(seconds=clock.ends[-1] - clock.ends[start],
                  cpu_seconds=clock.cpu[-1] - clock.cpu[start],
                  images=sum(clock.images[start + 1:]),
                  iterations=len(clock.ends) - 1 - start,
                  threads=torch.get_num_threads(),
                  device=(torch.cuda.get_device_name() if torch.cuda.is_available()
                          else 'CPU'))
    if torch.cuda.is_available():
        result['peak_gib'] = torch.cuda.max_memory_allocated() / 2**30
    return result


def last_json_line(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith('{')][-1])


def run_variant(args, name: str, cfg_summary: dict) -> Optional[dict]:
    """One fresh process timing variant ``name``; None (and its output's tail
    printed) when it fails."""
    common = ['--warmup', str(args.warmup), '--iters', str(args.iters)]
    threads = ['--threads', str(args.threads)] if args.threads else []
    if name == 'yolov5':
        command = [args.yolov5_python, 'benchmarks/yolov5_clock.py', 'train',
                   '--ann-file', osp.join(args.data_root, 'annotations/train.json'),
                   '--images-root', args.data_root,
                   '--model', cfg_summary['yolov5_model'],
                   '--img-size', str(cfg_summary['img_size']),
                   '--batch-size', str(cfg_summary['batch']),
                   '--workers', str(cfg_summary['workers']),
                   '--threads', str(args.threads or torch.get_num_threads()),
                   *common]
    else:
        command = [sys.executable, __file__, args.config, '--one-run',
                   '--data-root', args.data_root, *common, *threads]
        if 'amp' in name:
            command.append('--amp')
        if 'compiled' in name:
            command.append('--compile')
        if 'channels-last' in name:
            command.append('--channels-last')
        if args.yolov5_python:
            command += ['--nominal-batch-size', str(YOLOV5_NOMINAL_BATCH)]
    proc = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    try:
        return last_json_line(proc.stdout)
    except (IndexError, ValueError):
        print(f'{name}: failed (exit {proc.returncode}):\n'
              f'{(proc.stdout + proc.stderr)[-3000:]}')
        return None


def config_summary(config: str) -> dict:
    import parkdet_mm  # noqa: F401
    from parkdet_mm.config import load_config
    cfg = load_config(config)
    factors = (round(cfg.deepen_factor, 2), round(cfg.widen_factor, 2))
    return dict(img_size=cfg.img_scale[0], batch=cfg.train_dataloader.batch_size,
                workers=cfg.train_dataloader.num_workers,
                nominal=cfg.get('nominal_batch_size'),
                yolov5_model=YOLOV5_P6_MODELS.get(factors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default='configs/baseline.py')
    parser.add_argument('--amp', action='store_true',
                        help='also time each variant with mixed precision')
    parser.add_argument('--compile', action='store_true',
                        help='also time tools/train.py --compile')
    parser.add_argument('--channels-last', action='store_true',
                        help='also time channels-last memory format')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--threads', type=int, help="torch's threads in every run")
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--yolov5-python', metavar='PY',
                        help="also time YOLOv5's train.py run by this interpreter")
    parser.add_argument('--one-run', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--nominal-batch-size', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup < 1 or args.iters < 1:
        parser.error('--warmup and --iters must be at least 1')
    if args.one_run:
        print(json.dumps(time_our_training(args)), flush=True)
        return
    ensure_demo_data(args.data_root)
    summary = config_summary(args.config)
    variants = ['eager']
    if args.compile:
        variants.append('compiled')
    if args.channels_last:
        variants += [f'{v} channels-last' for v in variants]
    if args.amp:
        variants += [f'{v} amp' for v in variants]
    if args.yolov5_python:
        if summary['yolov5_model'] is None:
            parser.error(f'{args.config}: no YOLOv5 P6 model has its deepen and '
                         'widen factors')
        variants.append('yolov5')
    best: Dict[str, dict] = {}
    for round_ in range(args.rounds):
        for name in variants:
            result = run_variant(args, name, summary)
            if result is None:
                continue
            rate = result['images'] / result['seconds']
            print(f'round {round_ + 1}: {name} {rate:.2f} images/s', flush=True)
            if name not in best or rate > best[name]['images'] / best[name]['seconds']:
                best[name] = result
    threads = next(iter(best.values()), {}).get('threads', '?')
    nominal = YOLOV5_NOMINAL_BATCH if args.yolov5_python else summary['nominal']
    print(f'{args.config}: batch {summary["batch"]}, {summary["img_size"]} px, '
          f'{summary["workers"]} dataloader '
          f'workers, nominal batch {nominal}, {threads} threads; '
          f'{args.iters} iterations after {args.warmup}, best of {args.rounds} '
          'round(s)')
    for name, result in best.items():
        rate = result['images'] / result['seconds']
        memory = (f', peak GPU memory {result["peak_gib"]:.2f} GiB'
                  if 'peak_gib' in result else '')
        print(f'  {name:24s} {rate:7.2f} images/s  '
              f'({result["seconds"] / result["iterations"]:.3f} s per iteration, '
              f'{result["cpu_seconds"] / result["iterations"]:.3f} s of the main '
              f'process\'s CPU time{memory}; {result.get("device", "CPU")})')
    rates = {name: r['images'] / r['seconds'] for name, r in best.items()}
    for name in rates:
        if name != 'eager' and 'eager' in rates and name != 'yolov5':
            print(f'{name} / eager: {rates[name] / rates["eager"]:.2f}x')
    if 'yolov5' in rates:
        for name in rates:
            if name != 'yolov5':
                print(f'{name} / yolov5: {rates[name] / rates["yolov5"]:.2f}x')
    print('reference: 2 images per 2.52 s = 0.79 images/s on one T4, fp32')


if __name__ == '__main__':
    main()
