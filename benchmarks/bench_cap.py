"""Re-capping a 1,000,000-record prediction file against its floor, side by side.

    .venv/bin/python benchmarks/bench_cap.py [--records 1000000] [--repeats 2]

The floor is the least any capping can do: ``json.load`` the file, sort the records
by score, ``json.dump`` the kept ones once (it is told how many to keep). The cap is
``recap_file``, what ``tools/cap_submission.py`` runs: load, check every record, find
the exact cut-off, write atomically. Both run alternately on the same input, in a
temp dir generated here; the best time of each is printed, with their ratio (the
goal: at most 1.5) and a check that both wrote the same bytes.
"""
import argparse
import gc
import json
import os
import tempfile
import time
from operator import itemgetter
from typing import Callable

import numpy as np

from parkdet_challenge.classes import NUM_CLASSES
from parkdet_challenge.submission import MAX_BYTES, image_records, recap_file

BOXES_PER_IMAGE = 50  # docs/reference.md section 8: at most 50 boxes per image


def make_input(path: str, n_records: int, seed: int = 0) -> None:
    """Predictions as the test run makes them: 50 boxes per image, scores skewed low
    (confidence threshold 0.01) and rounded to 4 decimals, so many ties."""
    rng = np.random.default_rng(seed)
    records = []
    for image_id in range(-(-n_records // BOXES_PER_IMAGE)):
        n = min(BOXES_PER_IMAGE, n_records - len(records))
        xy = rng.uniform(0, [1920, 1080], size=(n, 2))
        wh = rng.uniform(2, 600, size=(n, 2))
        scores = 0.01 + 0.99 * rng.beta(0.5, 3.0, size=n)
        cats = rng.integers(1, NUM_CLASSES + 1, size=n)
        records += image_records(10_000 + image_id, np.hstack([xy, xy + wh]),
                                 scores, cats)
    with open(path, 'w') as f:
        f.write(json.dumps(records))


def floor(src: str, dst: str, keep: int) -> None:
    """Load, sort by score, dump the best ``keep`` records: no search, no checks."""
    with open(src) as f:
        records = json.load(f)
    records.sort(key=itemgetter('score'), reverse=True)
    with open(dst, 'w') as f:
        json.dump(records[:keep], f)


def timed(fn: Callable[[], object]) -> float:
    gc.collect()  # start each run from the same heap
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--records', type=int, default=1_000_000)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'preds.json')
        make_input(src, args.records)
        floor_out = os.path.join(tmp, 'floor.json')
        cap_out = os.path.join(tmp, 'cap.json')
        result = recap_file(src, cap_out)  # warm-up; tells the floor how many to keep
        floor_s, cap_s = [], []
        for _ in range(args.repeats):
            floor_s.append(timed(lambda: floor(src, floor_out, result.kept)))
            cap_s.append(timed(lambda: recap_file(src, cap_out)))
        with open(floor_out, 'rb') as f, open(cap_out, 'rb') as g:
            same = f.read() == g.read()
        print(f'input: {args.records} records, {os.path.getsize(src)} bytes; '
              f'{result.summary()}')
        print(f'floor (json.load + sort + json.dump kept): {min(floor_s):.2f} s')
        print(f'cap (recap_file, cap {MAX_BYTES} bytes):  {min(cap_s):.2f} s')
        print(f'ratio cap/floor: {min(cap_s) / min(floor_s):.2f} '
              f'(best of {args.repeats}); same output bytes: {same}')


if __name__ == '__main__':
    main()
