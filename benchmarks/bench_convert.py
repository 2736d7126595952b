"""How much the data-preparation converter costs above plain JSON input and output.

    python benchmarks/bench_convert.py [--images 25000] [--boxes 135000] [--test 2000]
        [--repeat 5] [--before c063165 903dd94] [--profile]

Builds a data set of the real set's scale in a temporary folder (every image present
on disk: one small 1920x1080 PNG hard-linked under every name, so the converter still
opens, reads and checks each file; about 1,700 boxes the ground-truth audit finds
suspicious), then times, side by side and best of ``--repeat``:

- the floor: ``json.load`` of the two input files plus ``json.dump`` of the outputs
  (train/val/test COCO, the same objects the converter writes);
- the same floor with the C encoder (``json.dumps`` then one write, with the
  converter's own separators): stricter, since ``json.dump`` encodes in pure Python;
- the converter with its defaults, ``prepare_data(DATA, OUT, val_size=3000)``: every
  image's data verified (one process), boxes checked, the ground-truth audit, the
  split, every JSON output written atomically, the class chart and the audit's page
  of suspicious boxes drawn (the target's measure);
- the converter header-only, without charts (``plot=False, verify=False``);
- both calls of the converter as it was at each ``--before`` revision (read with
  ``git archive`` into the temporary folder and imported beside this one; default
  c063165, the last before the format plug-ins and the audit, and 903dd94, the
  converter issue 27 measured), so that every ratio comes from one run on the same
  floors (``--before`` alone: none);
- the command line end to end with ``--no-verify`` (interpreter start included).

Each contender's best wall-clock time is the measure; the least CPU time of the
process (every thread: the audit's page decodes its images on threads) is printed
beside it, steadier than wall-clock time when other programs load the cores.

``--profile`` then prints where the default conversion's time goes (cProfile, one
run). Verifying the images' data is measured against reading their bytes by
``benchmarks/bench_verify.py``.

Target: the default conversion within 1.3x the floor.
"""
import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from parkdet_challenge.convert import convert, prepare_data

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1920, 1080


def build(root: Path, n_images: int, n_boxes: int, n_test: int, seed: int = 0) -> None:
    """Write a challenge-layout data set of the given scale under ``root``."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.new('RGB', (WIDTH, HEIGHT), (90, 90, 90)).save(buf, format='PNG')
    train_dir, test_dir = root / 'train/images', root / 'test/images'
    for folder in (train_dir, test_dir, root / 'train/label'):
        folder.mkdir(parents=True)
    source = root / 'source.png'
    source.write_bytes(buf.getvalue())

    images = []
    for i in range(n_images):
        name = f'2020{1101 + i % 28:04d}_경기도_-_-_맑음_주간_실외_right_{i // 50:06d}_{i:07d}.png'
        os.link(source, train_dir / name)
        entry = {'id': i + 1, 'file_name': name}
        if i % 10:  # one entry in ten without a size, as the real set may have
            entry.update(width=WIDTH, height=HEIGHT)
        images.append(entry)
    image_ids = rng.integers(1, n_images + 1, size=n_boxes)
    w = rng.uniform(10, 400, size=n_boxes).round(1)
    h = rng.uniform(10, 300, size=n_boxes).round(1)
    # About 2% of boxes stick out of the image and get clipped.
    x = rng.uniform(-20, WIDTH - w + 20).round(1)
    y = rng.uniform(-20, HEIGHT - h + 20).round(1)
    categories = rng.integers(1, 15, size=n_boxes)
    annotations = [{'id': k + 1, 'image_id': int(i), 'category_id': int(c),
                    'bbox': [float(bx), float(by), float(bw), float(bh)]}
                   for k, (i, c, bx, by, bw, bh)
                   in enumerate(zip(image_ids, categories, x, y, w, h))]
    (root / 'train/label/Train.json').write_text(json.dumps(
        {'images': images, 'annotations': annotations, 'categories': []},
        ensure_ascii=False), encoding='utf-8')

    test = []
    for i in range(n_test):
        name = f'{i:08x}-0000-4000-8000-{i:012x}.png'
        os.link(source, test_dir / name)
        test.append({'id': i, 'file_name': name, 'width': WIDTH, 'height': HEIGHT})
    (root / 'Test_Images_Information.json').write_text(json.dumps({'images': test}))
    source.unlink()


def best_of(repeat: int, fns: Dict[str, Callable[[], None]]) -> Dict[str, Tuple[float, float]]:
    """Run each function once (imports, caches), then ``repeat`` times, interleaved;
    the fastest wall-clock time of each and the least CPU time of this process (all
    its threads) it took."""
    for fn in fns.values():
        fn()
    best = {name: (float('inf'), float('inf')) for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def converter_at(revision: str, folder: Path) -> Optional[ModuleType]:
    """The ``parkdet_challenge.convert`` module of git ``revision``, imported as
    ``parkdet_challenge_<revision>.convert`` from a copy under ``folder``; None (with
    a line saying why) when git cannot give it."""
    name = 'parkdet_challenge_' + re.sub(r'\W', '_', revision)
    folder.mkdir(parents=True)
    archive = folder / 'before.tar'
    proc = subprocess.run(['git', '-C', str(REPO), 'archive', '-o', str(archive),
                           revision, 'parkdet_challenge'], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f'--before {revision}: left out ({proc.stderr.strip() or "git failed"})')
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter='data')
    (folder / 'parkdet_challenge').rename(folder / name)
    sys.path.insert(0, str(folder))
    return importlib.import_module(f'{name}.convert')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=25000)
    parser.add_argument('--boxes', type=int, default=135000)
    parser.add_argument('--test', type=int, default=2000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--before', nargs='*', default=['c063165', '903dd94'],
                        metavar='REV',
                        help="git revisions of the converter to time beside this "
                             'one (default: c063165 903dd94; none: --before alone)')
    parser.add_argument('--profile', action='store_true',
                        help="print where the converter's time goes (cProfile)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / 'data', Path(tmp) / 'out'
        build(data, args.images, args.boxes, args.test)
        inputs = [data / 'train/label/Train.json', data / 'Test_Images_Information.json']
        val_size = min(3000, args.images // 5)  # the real split's 3,000 at full scale
        outputs = convert(data, val_size=val_size, verify=False).outputs
        coco = {k: v for k, v in outputs.items() if k.startswith('annotations/')}
        floor_dir = Path(tmp) / 'floor'
        floor_dir.mkdir()

        def floor_dump() -> None:
            for path in inputs:
                with open(path, encoding='utf-8') as f:
                    json.load(f)
            for rel, obj in coco.items():
                with open(floor_dir / Path(rel).name, 'w') as f:
                    json.dump(obj, f)

        def floor_dumps() -> None:
            for path in inputs:
                json.loads(path.read_bytes())
            for rel, obj in coco.items():
                (floor_dir / Path(rel).name).write_bytes(
                    json.dumps(obj, separators=(',', ':')).encode('ascii'))

        def at(module: ModuleType, folder: Path, **kwargs: bool) -> Callable[[], None]:
            return lambda: module.prepare_data(data, folder, val_size=val_size,
                                               **kwargs)

        header_only = dict(plot=False, verify=False)
        this = sys.modules[prepare_data.__module__]
        contenders = {'floor': floor_dump, 'floor_c': floor_dumps,
                      'defaults': at(this, out), 'headers': at(this, out, **header_only)}
        befores = {}  # revision -> its converter module and output folder
        for revision in args.before:
            module = converter_at(revision, Path(tmp) / f'before_{revision}')
            if module is not None:
                befores[revision] = (module, Path(tmp) / f'out_{revision}')
                contenders[f'{revision} defaults'] = at(module, befores[revision][1])
                contenders[f'{revision} headers'] = at(module, befores[revision][1],
                                                       **header_only)
        times = best_of(args.repeat, contenders)
        cli: List[float] = []
        for _ in range(2):
            start = time.perf_counter()
            subprocess.run([sys.executable, str(REPO / 'tools/prepare_data.py'),
                            '--data-root', str(data), '--out-dir', str(out),
                            '--val-size', str(val_size), '--no-verify'],
                           check=True, capture_output=True)
            cli.append(time.perf_counter() - start)

        size_mb = inputs[0].stat().st_size / 1e6
        report = json.loads((out / 'report.json').read_text(encoding='utf-8'))
        print(f'data: {args.images} train images, {args.boxes} boxes, {args.test} test '
              f'images, all on disk (Train.json {size_mb:.1f} MB); best of {args.repeat}')
        print(f'kept {report["annotations"]["kept"]} boxes, clipped '
              f'{report["annotations"]["clipped"]}, '
              f'{len(report["suspicious"]["boxes"])} suspicious; split '
              f'{report["split"]["train_images"]} / {report["split"]["val_images"]}')
        wall = {name: t[0] for name, t in times.items()}
        cpu = {name: t[1] for name, t in times.items()}
        print(f'floor (json.load inputs + json.dump outputs)      {wall["floor"]:7.3f} s '
              f'(CPU {cpu["floor"]:.3f} s)')
        print(f'floor, C encoder (json.loads + json.dumps, write) {wall["floor_c"]:7.3f} s '
              f'(CPU {cpu["floor_c"]:.3f} s)')
        print(f'{"converter":39s} wall time / floor / C floor   CPU / floor')
        rows = [('defaults', 'defaults (verify, charts, audit page)'),
                ('headers', 'header-only, no charts')]
        for revision in befores:
            rows += [(f'{revision} defaults', f'at {revision}, defaults'),
                     (f'{revision} headers', f'at {revision}, header-only, no charts')]
        for key, label in rows:
            print(f'{label:39s} {wall[key]:7.3f} s {wall[key] / wall["floor"]:5.2f}x '
                  f'{wall[key] / wall["floor_c"]:6.2f}x {cpu[key]:7.3f} s '
                  f'{cpu[key] / cpu["floor"]:5.2f}x'
                  + ('   (target <= 1.3x)' if key == 'defaults' else ''))
        for revision, (_, folder) in befores.items():
            same = all((out / 'annotations' / f'{split}.json').read_bytes()
                       == (folder / 'annotations' / f'{split}.json').read_bytes()
                       for split in ('train', 'val', 'test'))
            print(f'train/val/test.json byte-identical to {revision}\'s: {same}')
        print(f'CLI end to end, --no-verify (interpreter, charts) {min(cli):7.3f} s')
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(contenders['defaults'])
            pstats.Stats(profile).sort_stats('cumulative').print_stats(25)


if __name__ == '__main__':
    main()
