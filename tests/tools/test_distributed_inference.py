"""Several processes (torchrun, gloo on the CPU) predict and test like one process."""
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, draw_tiny_coco, run_tool, write_tiny_config
from helpers.checkpoints import _random_checkpoint

from parkdet_mm.datasets import BatchShareSampler

RECT_BATCHES = """
test_img_scale = (128, 128)
test_batch_size_per_gpu = 2
test_dataloader = dict(dataset=dict(batch_shapes_cfg=dict(
    type='BatchShapePolicy', extra_pad_ratio=0)))
"""




@pytest.mark.parametrize('size,batch,world', [(5, 2, 2), (7, 3, 2), (4, 1, 3),
                                               (2, 4, 3), (9, 2, 1)])
def test_batch_share_sampler_shares_whole_batches_and_merges_back(size, batch, world):
    shares = []
    for rank in range(world):
        sampler = BatchShareSampler(range(size), batch)
        sampler.rank, sampler.world_size = rank, world
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1])
    assert sorted(i for share in shares for i in share) == list(range(size))
    for rank, share in enumerate(shares):  # whole batches of the one-process order
        for k in range(0, len(share), batch):
            first = share[k]
            assert first % batch == 0 and (first // batch) % world == rank
            assert share[k:k + batch] == list(range(first, min(first + batch, size)))
    assert BatchShareSampler.merge(shares, batch) == list(range(size))


@pytest.fixture(scope='module')
def mixed_sizes(tmp_path_factory):
    """Test images of two shapes, interleaved, so rectangular batches differ."""
    root = tmp_path_factory.mktemp('mixed')
    wide = json.loads(draw_tiny_coco(root, 'wide', 3, 201, 3, (96, 48)).read_text())
    tall = json.loads(draw_tiny_coco(root, 'tall', 2, 301, 4, (48, 96)).read_text())
    images = [im for pair in zip(wide['images'], tall['images']) for im in pair]
    images.append(wide['images'][-1])
    test = dict(images=images, annotations=[], categories=wide['categories'])
    (root / 'annotations' / 'test.json').write_text(json.dumps(test))
    return root


def _predict(nproc, args, out, port):
    env = dict(os.environ, PYTHONWARNINGS='ignore', PORT=str(port),
               PYTHON=sys.executable, OMP_NUM_THREADS='1')
    if nproc == 1:
        run_tool(['tools/predict.py', *args, '--out-dir', str(out)])
    else:
        paths = [a for a in args if a.endswith(('.py', '.pth'))]
        options = [a for a in args if a not in paths]
        proc = subprocess.run(
            ['bash', 'tools/dist_predict.sh', *paths, str(nproc), *options,
             '--out-dir', str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        assert proc.stdout.count('wrote ') == 1  # rank 0 alone writes
    return {name: (out / name).read_bytes()
            for name in ('preds.json', 'submission.json')}


def test_two_process_prediction_writes_the_same_bytes(mixed_sizes, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', mixed_sizes)
    with open(config, 'a') as f:
        f.write(RECT_BATCHES)
    first = _random_checkpoint(config, tmp_path / 'a.pth')
    common = ['--data-root', str(mixed_sizes), '--ann-dir',
              str(mixed_sizes / 'annotations'), '--img-size', '128',
              '--batch-size', '2', '--cfg-options', 'score_thr=0.001']
    # Rectangular batches: 5 images sorted by aspect ratio, in batches of 2 of
    # shapes 64x128, 128x128 (mixed) and 128x64; rank 0 reads batches 0 and 2,
    # rank 1 batch 1. With TTA and a two-checkpoint ensemble (weighted boxes fusion).
    second = _random_checkpoint(config, tmp_path / 'b.pth', seed=1)
    args = [str(config), str(first), str(second), '--tta', *common]
    one = _predict(1, args, tmp_path / 'one', 0)
    assert json.loads(one['preds.json']), 'a random model still predicts boxes'
    assert _predict(2, args, tmp_path / 'two', 29535) == one


def test_dist_test_writes_the_same_submission(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    checkpoint = _random_checkpoint(config, tmp_path / 'a.pth')
    options = ['--cfg-options', 'score_thr=0.001']
    run_tool(['tools/test.py', str(config), str(checkpoint), '--work-dir',
              str(tmp_path / 'w1'), '--out-dir', str(tmp_path / 'one'), *options])
    env = dict(os.environ, PYTHONWARNINGS='ignore', PORT='29533',
               PYTHON=sys.executable)
    proc = subprocess.run(
        ['bash', 'tools/dist_test.sh', str(config), str(checkpoint), '2',
         '--work-dir', str(tmp_path / 'w2'), '--out-dir', str(tmp_path / 'two'),
         *options], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    for name in ('preds.json', 'submission.json'):
        one = (tmp_path / 'one' / name).read_bytes()
        assert json.loads(one)
        assert (tmp_path / 'two' / name).read_bytes() == one
