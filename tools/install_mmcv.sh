#!/usr/bin/env bash
# Install mmcv 2.0.1 with its compiled ops into the active virtual environment.
#
# PyPI ships mmcv 2.0.1 as source only, and its setup.py forces -std=c++14 while the
# headers of torch >= 2.1 need C++17. So, in order of preference:
#   1. a matching wheel from the wheelhouse (PARKDET_WHEELHOUSE, else ../shared/wheelhouse);
#   2. a wheel this script built before, cached in PARKDET_WHEEL_CACHE;
#   3. the PyPI sdist, patched to -std=c++17 and built (MMCV_WITH_OPS=1), then cached.
# "Matching" is decided by pip itself (--no-index --find-links), so a wheel for another
# Python or platform is never taken.
set -euo pipefail

PY=$(realpath -s "${PY:-.venv/bin/python}")
MMCV_VERSION=2.0.1
here=$(cd "$(dirname "$0")/.." && pwd)
wheelhouse=${PARKDET_WHEELHOUSE:-}
if [ -z "$wheelhouse" ] && [ -d "$here/../shared/wheelhouse" ]; then
  wheelhouse="$here/../shared/wheelhouse"
fi
cache=${PARKDET_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parkdet_mm/wheels}

has_ops() {
  "$PY" - <<'PY' 2>/dev/null
import torch
from mmcv.ops import nms
import mmcv
assert mmcv.__version__ == '2.0.1'
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
_, keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
assert keep.tolist() == [0]
PY
}

install_from() {  # $1: a folder of wheels; succeeds only if pip finds a matching one
  [ -d "$1" ] && "$PY" -m pip install -q --no-deps --no-index --find-links "$1" \
    "mmcv==$MMCV_VERSION" 2>/dev/null
}

if has_ops; then
  echo "mmcv $MMCV_VERSION with ops: already installed"
  exit 0
fi
if [ -n "$wheelhouse" ] && install_from "$wheelhouse" && has_ops; then
  echo "mmcv $MMCV_VERSION: installed from the wheelhouse $wheelhouse"
  exit 0
fi
if install_from "$cache" && has_ops; then
  echo "mmcv $MMCV_VERSION: installed from the wheel cache $cache"
  exit 0
fi

echo "mmcv $MMCV_VERSION: no matching wheel; building it from the PyPI sdist (about 8 minutes on 2 cores)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# mmcv's setup.py imports pkg_resources, which setuptools >= 70 no longer ships; torch
# wants a newer setuptools at run time, so the one installed now is put back afterwards.
setuptools_now=$("$PY" -c 'import importlib.metadata as m; print(m.version("setuptools"))')
trap 'rm -rf "$work"; "$PY" -m pip install -q "setuptools==$setuptools_now"' EXIT
"$PY" -m pip install -q "setuptools<70" wheel ninja
"$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
  -d "$work" "mmcv==$MMCV_VERSION"
tar -xzf "$work"/mmcv-$MMCV_VERSION.tar.gz -C "$work"
src="$work/mmcv-$MMCV_VERSION"
grep -q -- '-std=c++14' "$src/setup.py"
sed -i 's/-std=c++14/-std=c++17/g' "$src/setup.py"
mkdir -p "$cache"
(cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
  "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$cache" .)
install_from "$cache"
has_ops || { echo "mmcv $MMCV_VERSION: the built wheel has no working ops" >&2; exit 1; }
echo "mmcv $MMCV_VERSION: built and cached in $cache"
