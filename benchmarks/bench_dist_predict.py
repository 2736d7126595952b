"""Two-process prediction (tools/dist_predict.sh) against one process, same threads.

    .venv/bin/python benchmarks/bench_dist_predict.py [--images 320] [--nproc 2]
        [--repeat 2] [--no-tta]

Predicts the first ``--images`` training images of the demo data (``data/demo``:
``python tools/make_demo_data.py data/demo`` and ``tools/prepare_data.py`` first) with
the demo finetune config's model (random weights: the speed does not depend on
them) at its 256 px, with YOLOv5's TTA unless ``--no-tta``, batch 8, no dataloader
workers. One process runs with ``OMP_NUM_THREADS=nproc``, ``nproc`` processes with 1
thread each, so both use the same cores. Each command is timed end to end
(interpreter start, model build, prediction, gathering, writing), alternately, best
of ``--repeat``. The files each writes are compared with those of one process
with one thread: processes that each run as many threads as that process write the
same bytes; a different thread count changes how the CPU splits its float sums,
hence the last digits of some scores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import parkdet_mm  # noqa: E402,F401
from parkdet_mm.config import load_config  # noqa: E402

CONFIG = 'configs/demo/finetune.py'


def random_checkpoint(path: Path) -> None:
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    init_default_scope('mmyolo')
    torch.manual_seed(0)
    model = MODELS.build(load_config(str(REPO / CONFIG)).model)
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default=str(REPO / 'data/demo'))
    parser.add_argument('--images', type=int, default=320)
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--no-tta', action='store_true')
    args = parser.parse_args()
    train = Path(args.data_root) / 'annotations/train.json'
    if not train.is_file():
        raise SystemExit(f'error: {train} does not exist; make the demo data first')

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coco = json.loads(train.read_text())
        images = coco['images'][:args.images]
        (tmp / 'test.json').write_text(json.dumps(
            dict(images=images, annotations=[], categories=coco['categories'])))
        checkpoint = tmp / 'model.pth'
        random_checkpoint(checkpoint)
        options = ['--data-root', args.data_root, '--ann-dir', str(tmp),
                   '--batch-size', '8', '--tta' if not args.no_tta else '--no-tta',
                   '--cfg-options', 'test_dataloader.num_workers=0',
                   'test_dataloader.persistent_workers=False']
        commands = {
            'one': (['.venv/bin/python', 'tools/predict.py', CONFIG, str(checkpoint),
                     *options, '--out-dir', str(tmp / 'one')],
                    str(args.nproc)),
            'dist': (['bash', 'tools/dist_predict.sh', CONFIG, str(checkpoint),
                      str(args.nproc), *options, '--out-dir', str(tmp / 'dist')],
                     '1'),
        }
        def run(command, threads):
            env = dict(os.environ, OMP_NUM_THREADS=threads, PYTHONWARNINGS='ignore',
                       PORT='29571')
            start = time.perf_counter()
            subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
            return time.perf_counter() - start

        best = {name: float('inf') for name in commands}
        for _ in range(args.repeat):
            for name, (command, threads) in commands.items():
                best[name] = min(best[name], run(command, threads))
        run(commands['one'][0][:-1] + [str(tmp / 'one_thread')], '1')

        def same(a, b):
            return all((tmp / a / f).read_bytes() == (tmp / b / f).read_bytes()
                       for f in ('preds.json', 'submission.json'))
        same_threads, same_cores = same('one_thread', 'dist'), same('one', 'dist')

    n = len(images)
    tta = 'without' if args.no_tta else 'with'
    print(f'{n} images at 256 px {tta} TTA, demo model, end to end, best of '
          f'{args.repeat}')
    print(f'1 process x {args.nproc} threads: {best["one"]:.1f} s '
          f'({n / best["one"]:.1f} images/s)')
    print(f'{args.nproc} processes x 1 thread: {best["dist"]:.1f} s '
          f'({n / best["dist"]:.1f} images/s)')
    print(f'speed-up {best["one"] / best["dist"]:.2f}x')
    print(f'files identical to 1 process x 1 thread: {same_threads}; '
          f'to 1 process x {args.nproc} threads: {same_cores}')


if __name__ == '__main__':
    main()
