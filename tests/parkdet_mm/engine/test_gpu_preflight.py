"""On a GPU machine, mmcv without CUDA ops is refused by the install and by the tools.

This machine has no GPU, so torch is made to believe it has one (CUDA 12.8) by a
stand-in ``sitecustomize`` on PYTHONPATH; mmcv here is the CPU build, as the
wheelhouse's would be on a GPU machine. Nothing is installed or removed: the wheel
sources the install script may try are empty folders, and it must stop before
building.
"""
import os
import subprocess
import sys

import pytest
from conftest import REPO, assert_one_line_error

SEES_A_GPU = '''import torch
torch.cuda.is_available = lambda: True
torch.version.cuda = '12.8'
'''


@pytest.fixture
def gpu_env(tmp_path):
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(SEES_A_GPU)
    return dict(os.environ, PYTHONPATH=str(site), PYTHONWARNINGS='ignore')


def _install(env, tmp_path, path_dirs=()):
    empty = tmp_path / 'empty'
    empty.mkdir(exist_ok=True)
    env = dict(env, PY=sys.executable, PARKDET_WHEELHOUSE=str(empty),
               PARKDET_WHEEL_CACHE=str(empty),
               PATH=os.pathsep.join([*map(str, path_dirs), '/usr/bin', '/bin']))
    env.pop('CUDA_HOME', None)
    return subprocess.run(['bash', 'tools/install_mmcv.sh'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_install_refuses_cpu_mmcv_when_a_gpu_is_present(gpu_env, tmp_path):
    # the real CPU install: mmcv with ops, nothing to do
    proc = _install(dict(os.environ), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'mmcv 2.0.1 with ops: already installed'

    # with a GPU: the CPU build does not pass; no CUDA compiler, so one line and stop
    proc = _install(gpu_env, tmp_path)
    assert proc.returncode != 0
    assert 'already installed' not in proc.stdout
    assert 'installed without CUDA ops (CUDA 12.8)' in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    assert 'CUDA 12.8 toolkit' in lines[0] and 'docker/Dockerfile' in lines[0]

    # a compiler for another CUDA is named and refused the same way
    bin_dir = tmp_path / 'cuda11/bin'
    bin_dir.mkdir(parents=True)
    (bin_dir / 'nvcc').write_text(
        '#!/bin/sh\necho "Cuda compilation tools, release 11.8, V11.8.89"\n')
    (bin_dir / 'nvcc').chmod(0o755)
    proc = _install(gpu_env, tmp_path, [bin_dir])
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f'found 11.8 at {bin_dir}/nvcc' in lines[0], lines


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_tools_refuse_cpu_mmcv_before_any_work(gpu_env, tmp_path, tool):
    # the config does not exist: the check comes before reading it
    args = [str(tmp_path / 'nope.py')] + (['x.pth'] if tool == 'test.py' else [])
    proc = subprocess.run([sys.executable, f'tools/{tool}', *args], cwd=REPO,
                          env=gpu_env, capture_output=True, text=True, timeout=300)
    assert_one_line_error(proc, 'without CUDA ops', 'make install', 'docker/Dockerfile')


def test_predict_on_cuda_refuses_cpu_mmcv(tmp_path):
    # no stand-in needed: --device cuda with this machine's CPU-only mmcv
    proc = subprocess.run(
        [sys.executable, 'tools/predict.py', str(tmp_path / 'nope.py'), '--data-root',
         str(tmp_path), '--ann-dir', str(tmp_path), '--device', 'cuda'],
        cwd=REPO, env=dict(os.environ, PYTHONWARNINGS='ignore'), capture_output=True,
        text=True, timeout=300)
    assert_one_line_error(proc, 'without CUDA ops')
