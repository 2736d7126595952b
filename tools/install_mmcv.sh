#!/usr/bin/env bash
# Install mmcv 2.0.1 with its compiled ops into the active virtual environment; on a
# machine where torch sees a GPU, with its CUDA ops.
#
# PyPI ships mmcv 2.0.1 as source only, and its setup.py forces -std=c++14 while the
# headers of torch >= 2.1 need C++17. So, in order of preference:
#   1. a matching wheel from the wheelhouse PARKDET_WHEELHOUSE names, if it names one (a
#      folder of wheels you keep; CI points it at its cache, .ci/run);
#   2. a wheel this script built before, cached in PARKDET_WHEEL_CACHE (GPU builds in
#      a folder of their own per torch and CUDA version);
#   3. the PyPI sdist, patched to -std=c++17 and built (MMCV_WITH_OPS=1, and on a GPU
#      machine (or with FORCE_CUDA=1, as in docker/Dockerfile) with CUDA ops, by the
#      CUDA compiler matching torch's CUDA), then cached.
# "Matching" is decided by pip itself (--no-index --find-links), so a wheel for another
# Python or platform is never taken, and then by the check: NMS runs, on a CUDA
# tensor when torch sees a GPU, so a wheel without CUDA ops (or built for another
# CUDA) is never kept there. A GPU machine without that compiler stops with one line.
set -euo pipefail

PY=$(realpath -s "${PY:-.venv/bin/python}")
MMCV_VERSION=2.0.1
wheelhouse=${PARKDET_WHEELHOUSE:-}
cache=${PARKDET_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/parkdet_mm/wheels}
# torch's CUDA version when it sees a GPU, or when FORCE_CUDA=1 asks for CUDA ops
# without one (docker build); else empty (and empty before torch is in).
read -r gpu torch_version cuda <<<"$("$PY" -c 'import torch
print(int(torch.cuda.is_available()), torch.__version__.split("+")[0], torch.version.cuda or "")' \
  2>/dev/null || echo 0)"
if [ "$gpu" != 1 ] && [ "${FORCE_CUDA:-0}" != 1 ]; then
  cuda=""
fi
ops="ops"
if [ -n "$cuda" ]; then
  cache="$cache/torch$torch_version-cu$cuda"
  ops="CUDA ops (CUDA $cuda)"
fi

has_ops() {
  CUDA="$cuda" GPU="$gpu" "$PY" - <<'PY' 2>/dev/null
import os

import torch
import mmcv
from mmcv.ops import get_compiling_cuda_version, nms

assert mmcv.__version__ == '2.0.1'
device = 'cpu'
if os.environ['CUDA']:  # built with CUDA, torch's major.minor, and NMS on the GPU
    assert get_compiling_cuda_version().split('.')[:2] == os.environ['CUDA'].split('.')[:2]
    device = 'cuda' if os.environ['GPU'] == '1' else 'cpu'  # no GPU in a docker build
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device=device)
_, keep = nms(boxes, torch.tensor([0.9, 0.8], device=device), 0.5)
assert keep.tolist() == [0]
PY
}

install_from() {  # $1: a folder of wheels; succeeds only if pip finds a matching one
  [ -d "$1" ] && "$PY" -m pip install -q --no-deps --no-index --force-reinstall \
    --find-links "$1" "mmcv==$MMCV_VERSION" 2>/dev/null
}

if has_ops; then
  echo "mmcv $MMCV_VERSION with $ops: already installed"
  exit 0
fi
if [ -n "$cuda" ] && "$PY" -c 'import mmcv' 2>/dev/null; then
  echo "mmcv $MMCV_VERSION is installed without $ops; replacing it"
fi
if [ -n "$wheelhouse" ] && install_from "$wheelhouse" && has_ops; then
  echo "mmcv $MMCV_VERSION with $ops: installed from the wheelhouse $wheelhouse"
  exit 0
fi
if install_from "$cache" && has_ops; then
  echo "mmcv $MMCV_VERSION with $ops: installed from the wheel cache $cache"
  exit 0
fi

build_env=(MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}")
if [ -n "$cuda" ]; then
  nvcc=${CUDA_HOME:+$CUDA_HOME/bin/nvcc}
  [ -n "$nvcc" ] && [ -x "$nvcc" ] || nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  found=$([ -x "$nvcc" ] && "$nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p' || true)
  if [ "$found" != "$cuda" ]; then
    echo "error: mmcv needs CUDA ops (torch uses CUDA $cuda), but no CUDA $cuda compiler" \
      "(nvcc${found:+: found $found at $nvcc}) is there to build mmcv's CUDA ops:" \
      "install the CUDA $cuda toolkit (and set CUDA_HOME), or use docker/Dockerfile" >&2
    exit 1
  fi
  build_env+=(FORCE_CUDA=1 CUDA_HOME="$(dirname "$(dirname "$nvcc")")")
fi

echo "mmcv $MMCV_VERSION: no matching wheel; building it with $ops from the PyPI sdist" \
  "(about 8 minutes on 2 cores without CUDA)"
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
(cd "$src" && env "${build_env[@]}" \
  "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$cache" .)
install_from "$cache"
has_ops || { echo "mmcv $MMCV_VERSION: the built wheel has no working $ops" >&2; exit 1; }
echo "mmcv $MMCV_VERSION with $ops: built and cached in $cache"
