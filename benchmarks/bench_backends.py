"""CPU inference backends side by side: images per second of PyTorch, ONNX Runtime and
OpenVINO on the same batches, at the demo size and at the challenge's 1536 px.

    .venv/bin/python benchmarks/bench_backends.py [CONFIG] [CHECKPOINT] [--sizes 256 1536]
        [--batch-size 1] [--repeats 5]

Defaults: the demo finetune config (YOLOv5n6-like, configs/demo/finetune.py) and its
final checkpoint when `make demo` made one, else random weights (the network's speed
is the same; NMS then sees other boxes). For each size, each backend's
YOLOv5Inferencer (tools/detect.py's and tools/predict.py's, --backend) runs the same
batch of generated images (grey noise, 3:4 like the challenge's) letterboxed to the
size: "network" is the backbone, neck and head alone on the preprocessed batch,
"detect" the whole forward (preprocessing, network, decoding, NMS). Backends run in
turn within each of --repeats rounds, after a warm-up (OpenVINO compiles the
network for a shape at its first batch of it); the medians are printed, with the
ratio to PyTorch. Threads: torch's (OMP_NUM_THREADS), the same for every backend.
OpenVINO is left out when it is not installed (pip install .[openvino]).
"""
import argparse
import importlib.util
import os.path as osp
import statistics
import tempfile
import time

import numpy as np
import torch

import parkdet_mm  # noqa: F401
from parkdet_mm.apis import YOLOv5Inferencer
from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
from parkdet_mm.config import final_checkpoint, load_config

DEMO_CONFIG = 'configs/demo/finetune.py'


def random_checkpoint(cfg, folder: str) -> str:
    """The config's model with its initial weights, saved in ``folder``."""
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    init_default_scope('mmyolo')
    path = osp.join(folder, 'random.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta={}), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEMO_CONFIG)
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 1536])
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    flush_denormals_on_cpu()
    backends = ['pytorch', 'onnxruntime'] + (
        ['openvino'] if importlib.util.find_spec('openvino') else [])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            final = final_checkpoint(load_config(args.config))
            checkpoint = final if osp.isfile(final) else random_checkpoint(
                load_config(args.config), tmp)
        print(f'{args.config}, {checkpoint}; batch {args.batch_size}, CPU, '
              f'{torch.get_num_threads()} threads; median of {args.repeats} rounds')
        for size in args.sizes:
            cfg = load_config(args.config, None, dict(test_img_scale=(size, size)))
            inferencers = {b: YOLOv5Inferencer(cfg, checkpoint, device='cpu', backend=b,
                                               show_progress=False) for b in backends}
            rng = np.random.default_rng(0)
            images = [rng.integers(90, 140, (size * 3 // 4, size, 3), dtype=np.uint8)
                      for _ in range(args.batch_size)]
            _, batch = next(iter(inferencers['pytorch'].preprocess(
                images, batch_size=args.batch_size)))
            inputs = inferencers['pytorch'].model.data_preprocessor(batch, False)['inputs']
            seconds = {(b, stage): [] for b in backends for stage in ('network', 'detect')}

            def run(backend: str, stage: str) -> float:
                detector = inferencers[backend].model
                start = time.perf_counter()
                with torch.no_grad():
                    if stage == 'network':
                        detector.bbox_head(detector.extract_feat(inputs))
                    else:
                        inferencers[backend].forward(batch)
                return time.perf_counter() - start

            for round_ in range(args.repeats + 1):  # the first round warms up
                for backend in backends:
                    for stage in ('network', 'detect'):
                        elapsed = run(backend, stage)
                        if round_:
                            seconds[backend, stage].append(elapsed)
            print(f'\n{size} px (input {tuple(inputs.shape)}):')
            print(f'{"backend":12} {"network img/s":>14} {"ratio":>6} '
                  f'{"detect img/s":>13} {"ratio":>6}')
            base = {stage: statistics.median(seconds['pytorch', stage])
                    for stage in ('network', 'detect')}
            for backend in backends:
                cells = []
                for stage in ('network', 'detect'):
                    median = statistics.median(seconds[backend, stage])
                    cells += [f'{args.batch_size / median:.2f}',
                              f'{base[stage] / median:.2f}']
                print(f'{backend:12} {cells[0]:>14} {cells[1]:>6} {cells[2]:>13} '
                      f'{cells[3]:>6}')


if __name__ == '__main__':
    main()
