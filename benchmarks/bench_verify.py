"""What verifying the images' data costs above reading their bytes.

    python benchmarks/bench_verify.py [--images 3000] [--size 320x240] [--workers N]
        [--repeat 3]

Writes ``--images`` PNGs in a temporary folder (noise over a gradient, so the data
does not compress away; each file distinct), reads them all once so both contenders
find them in the page cache, then times side by side, best of ``--repeat``, with the
same number of processes (``--workers``, default the cores) and the same chunking:

- the floor: every file's bytes read (``open().read()``) in a process pool;
- ``read_image_sizes(paths, verify=True, workers=N)``: what ``tools/prepare_data.py``
  runs by default (YOLOv5's check: PIL ``verify()`` of every chunk and CRC, the JPEG
  end marker), progress bar off;
- for scale, the header-only reading of ``--no-verify`` (one process).

Target: verification within 1.5x the floor.
"""
import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from parkdet_challenge.imagefiles import read_image_sizes  # noqa: E402


def write_images(folder: Path, count: int, width: int, height: int) -> List[str]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 160, width, dtype=np.float32)[None, :, None]
    paths = []
    for i in range(count):
        noise = rng.integers(0, 96, (height, width, 3), dtype=np.uint8)
        pixels = (ramp + noise + i % 7).astype(np.uint8)
        path = folder / f'{i:05d}.png'
        Image.fromarray(pixels).save(path, compress_level=1)
        paths.append(str(path))
    return paths


def read_bytes(path: str) -> int:
    with open(path, 'rb') as f:
        return len(f.read())


def read_all_bytes(paths: List[str], workers: int) -> int:
    """The floor: the same pool, chunking and result collection as the verifier."""
    if workers <= 1:
        return sum(map(read_bytes, paths))
    chunk = max(1, min(64, len(paths) // (workers * 16)))
    with multiprocessing.Pool(workers) as pool:
        return sum(pool.imap(read_bytes, paths, chunksize=chunk))


def best_of(repeat: int, contenders: Dict[str, Callable[[], object]]) -> Dict[str, float]:
    best = {name: float('inf') for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():  # interleaved: same machine state
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=3000)
    parser.add_argument('--size', default='320x240', help='WIDTHxHEIGHT')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split('x'))

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_images(Path(tmp), args.images, width, height)
        total = read_all_bytes(paths, 1)  # into the page cache
        results = read_image_sizes(paths, verify=True, workers=args.workers)
        assert all(isinstance(r, tuple) for r in results), 'a generated image failed'
        times = best_of(args.repeat, {
            'floor': lambda: read_all_bytes(paths, args.workers),
            'verify': lambda: read_image_sizes(paths, verify=True,
                                               workers=args.workers),
            'header': lambda: read_image_sizes(paths, verify=False),
        })

    print(f'{args.images} PNGs of {width}x{height}, {total / 1e6:.0f} MB, '
          f'{args.workers} processes, best of {args.repeat}')
    print(f'floor (read every byte):       {times["floor"]:.3f} s')
    print(f'verify (YOLOv5 check):         {times["verify"]:.3f} s')
    print(f'header only (--no-verify, 1p): {times["header"]:.3f} s')
    print(f'ratio verify / floor: {times["verify"] / times["floor"]:.2f}x '
          '(target <= 1.5x)')


if __name__ == '__main__':
    main()
