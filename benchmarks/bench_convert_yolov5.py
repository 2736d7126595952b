"""How long converting a yolov5x6-sized YOLOv5 checkpoint takes.

    python benchmarks/bench_convert_yolov5.py [--repeat 3]

Writes a checkpoint of yolov5x6's architecture (v6.1 P6, depth 1.33, width 1.25, 80
classes, about 140 M parameters, fp16, stripped like the release file) in YOLOv5's
pickle layout (tests/yolov5_pickle_layout.py), then times, best of ``--repeat``:

- ``convert_yolov5_checkpoint`` (read + map, in memory: what load_from, test.py and
  predict.py pay);
- ``tools/convert_yolov5.py SRC DST`` end to end (interpreter start, imports, fp32
  write of about 560 MB).

Target: under 10 s.
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests'))

from yolov5_pickle_layout import YAML_V6_P6, build_yolov5, save_yolov5_checkpoint  # noqa: E402

from parkdet_mm.converters.yolov5_checkpoint import convert_yolov5_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / 'yolov5x6.pt'
        model = build_yolov5(YAML_V6_P6, nc=80, depth=1.33, width=1.25)
        params = sum(p.numel() for p in model.parameters())
        save_yolov5_checkpoint(src, model, stripped=True)
        del model
        print(f'checkpoint: {params / 1e6:.1f} M parameters, fp16, '
              f'{src.stat().st_size / 1e6:.0f} MB')
        best = float('inf')
        for _ in range(args.repeat):
            start = time.perf_counter()
            ckpt = convert_yolov5_checkpoint(str(src))
            best = min(best, time.perf_counter() - start)
            del ckpt
        print(f'convert_yolov5_checkpoint (in memory): {best:.2f} s')
        best_cli = float('inf')
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, str(REPO / 'tools/convert_yolov5.py'),
                            str(src), str(Path(tmp) / 'yolov5x6.pth')], check=True,
                           capture_output=True, cwd=REPO)
            best_cli = min(best_cli, time.perf_counter() - start)
        print(f'tools/convert_yolov5.py end to end: {best_cli:.2f} s '
              f'(target < 10 s)')


if __name__ == '__main__':
    main()
