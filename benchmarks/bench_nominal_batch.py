"""Training iteration time with YOLOv5's nominal batch (64) against a step every batch.

    python benchmarks/bench_nominal_batch.py [--config configs/demo/baseline.py]
        [--batch 2] [--iters 64] [--rounds 3]

Trains the config's model on the demo data (made here if missing) at the given batch
(the reference's 2 by default: accumulate 32) twice per round, once with
``nominal_batch_size=64`` and once with ``None``, alternating, from the same seed so
both see the same images. Warmup is cut to one iteration so that the timed
iterations run at the steady accumulate. Prints the median wall time per iteration
of each setting and their ratio, and the loop's own per-iteration bookkeeping (the
schedule hook's before_train_iter and the wrapper's step decisions) timed alone.
Goal (issue 9): the nominal batch is not slower (within 2%).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

from mmengine.runner import Runner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train_speed import IterationClock, ensure_demo_data  # noqa: E402

import parkdet_mm  # noqa: F401,E402
from parkdet_mm.apis.run_setup import flush_denormals_on_cpu  # noqa: E402
from parkdet_mm.config import load_config  # noqa: E402

SKIP = 4  # first iterations of each run (allocations, first step) not timed


def build_runner(args, nominal_batch_size, name: str) -> Runner:
    cfg = load_config(args.config)
    cfg.experiment_name = name
    cfg.work_dir = f'work_dirs/bench_nominal_batch/{name}'
    cfg.load_from = None
    data_root = args.data_root.rstrip('/') + '/'
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.dataset.ann_file = 'annotations/train.json'
    cfg.train_dataloader.batch_size = args.batch
    cfg.train_dataloader.num_workers = 0  # same images in both settings
    cfg.train_dataloader.persistent_workers = False
    cfg.optim_wrapper.nominal_batch_size = nominal_batch_size
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'ClassBalanceHook']
    cfg.train_cfg = dict(type='IterBasedTrainLoop',
                         max_iters=SKIP + args.iters, val_interval=10**9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**9)
    # warmup over one iteration: accumulate is round(64 / batch) from iteration 1
    cfg.default_hooks.param_scheduler.update(
        max_epochs=1, warmup_epochs=0, warmup_min_iters=1)
    return Runner.from_cfg(cfg)


def time_run(args, nominal_batch_size, name: str):
    runner = build_runner(args, nominal_batch_size, name)
    clock = IterationClock()
    runner.register_hook(clock, priority='LOWEST')
    runner.train()
    steps = runner.optim_wrapper.last_step_iter
    return clock.times[SKIP:], steps


def bookkeeping_us(iters: int = 20000) -> float:
    """Microseconds per iteration of the schedule hook and the step decisions."""
    from types import SimpleNamespace

    import torch

    from parkdet_mm.engine.hooks import YOLOv5LoopSchedulerHook
    from parkdet_mm.engine.optimizers import NominalBatchOptimWrapper

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3),
                                torch.nn.BatchNorm2d(4))
    optimizer = torch.optim.SGD(
        [dict(params=[model[0].weight], weight_decay=5e-4),
         dict(params=[model[1].weight]),
         dict(params=[model[0].bias, model[1].bias])], lr=0.01, momentum=0.9)
    wrapper = NominalBatchOptimWrapper(optimizer=optimizer)
    # the real baseline's epoch: 721 batches of 2
    loader = type('Loader', (list, ), dict(batch_size=2))([None] * 721)
    runner = SimpleNamespace(optim_wrapper=wrapper, iter=0, epoch=0,
                             train_dataloader=loader)
    hook = YOLOv5LoopSchedulerHook(max_epochs=50)
    hook.before_train(runner)
    start = time.perf_counter()
    for ni in range(iters):
        runner.iter = ni
        hook.before_train_iter(runner, ni)
        wrapper._inner_count = ni
        wrapper.should_sync()
        wrapper._inner_count = ni + 1
        wrapper.should_update()
    return (time.perf_counter() - start) / iters * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/demo/baseline.py')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=64)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--data-root', default='data/demo')
    args = parser.parse_args()
    ensure_demo_data(args.data_root)
    flush_denormals_on_cpu()

    times = {64: [], None: []}
    steps = {}
    for round_ in range(args.rounds):
        for nominal in ((64, None) if round_ % 2 == 0 else (None, 64)):
            name = f'nbs_{nominal}_round{round_}'
            run_times, steps[nominal] = time_run(args, nominal, name)
            times[nominal].extend(run_times)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f'{args.config}: batch {args.batch}, {args.rounds} rounds x '
          f'{args.iters} timed iterations per setting, alternating')
    for nominal in (64, None):
        print(f'nominal_batch_size={str(nominal):4s}: median '
              f'{median[nominal] * 1e3:.1f} ms per iteration '
              f'(mean {statistics.mean(times[nominal]) * 1e3:.1f} ms; '
              f'last optimizer step at iteration {steps[nominal]})')
    print(f'ratio 64 / None: {median[64] / median[None]:.3f} (goal: <= 1.02)')
    print(f'loop bookkeeping (schedule hook + step decisions): '
          f'{bookkeeping_us():.1f} us per iteration')


if __name__ == '__main__':
    main()
