#!/usr/bin/env bash
# A scratch environment holding YOLOv5's own code, for the side-by-side benchmarks
# (benchmarks/bench_train_speed.py and benchmarks/bench_pipeline.py --yolov5-python).
#
#   bash benchmarks/make_yolov5_env.sh /tmp/yolov5-venv
#   python benchmarks/bench_pipeline.py --yolov5-python /tmp/yolov5-venv/bin/python
#
# Outside this repository: a virtual environment with PyPI's yolov5==7.0.14 (v6.1's
# model, loss and loop) that runs on this project's torch, numpy and OpenCV (the
# project's .venv is put on its path, so both sides use the same libraries), with
# YOLOv5's other imports pinned and installed without dependencies (nothing of the
# project's environment changes). PyPI's torchvision does not import on the CPU
# torch: benchmarks/yolov5_env/ stands in for it (NMS through mmcv) and for the
# roboflow client YOLOv5 imports at start. Needs PyPI once; the benchmarks run
# offline.
set -euo pipefail
out=${1:?usage: bash benchmarks/make_yolov5_env.sh DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=$("$repo/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
python3.11 -m venv "$out"
site=$("$out/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# the stand-ins first, then the project's libraries
printf '%s\n' "$repo/benchmarks/yolov5_env" > "$site/yolov5_standins.pth"
printf '%s\n' "$stack" > "$site/zz_parkdet_stack.pth"
"$out/bin/pip" install -q --no-deps yolov5==7.0.14 ultralytics==8.0.238 \
    psutil==7.2.2 pandas==2.2.3 seaborn==0.13.2 thop==0.1.1.post2209072238 \
    pytz==2025.2 tzdata==2025.2
"$out/bin/python" -c 'import yolov5.train, torchvision; print("YOLOv5", __import__("yolov5").__version__, "ready in", __import__("sys").prefix)'
