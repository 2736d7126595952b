"""EpochPartSampler's contract in one process (simulated ranks) and in two real ones."""
import json
import math
import socket

import numpy as np
import pytest
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from mmyolo.registry import DATA_SAMPLERS
from parkdet_mm.datasets import EpochPartSampler
from parkdet_mm.datasets import epoch_part_sampler as sampler_module


def make_sampler(monkeypatch, num_images, parts, seed=0, rank=0, world_size=1):
    """A sampler that believes it is rank ``rank`` of ``world_size``."""
    monkeypatch.setattr(sampler_module, 'get_dist_info',
                        lambda: (rank, world_size))
    return EpochPartSampler(list(range(num_images)), parts=parts, seed=seed)


def ranks_of(monkeypatch, num_images, parts, world_size, seed=0, weights=None):
    samplers = []
    for rank in range(world_size):
        sampler = make_sampler(monkeypatch, num_images, parts, seed, rank,
                               world_size)
        sampler.set_weights(weights)
        samplers.append(sampler)
    return samplers


def interleave(per_rank):
    """Undo the split: rank r holds positions r, r + world_size, ..."""
    return [index for row in zip(*per_rank) for index in row]


@pytest.mark.parametrize('num_images,parts,world_size', [(100, 15, 1),
                                                         (100, 15, 4),
                                                         (60, 15, 2),
                                                         (7, 15, 3),
                                                         (10, 1, 1)])
def test_length_and_epoch_total(monkeypatch, num_images, parts, world_size):
    total = max(1, num_images // parts)
    for sampler in ranks_of(monkeypatch, num_images, parts, world_size):
        assert sampler.total == total
        assert len(sampler) == math.ceil(total / world_size)
        for epoch in range(3):
            sampler.set_epoch(epoch)
            assert len(list(sampler)) == len(sampler)


def test_ranks_split_one_draw_disjointly(monkeypatch):
    # total = 25 over 3 ranks: 27 positions, the last 2 repeat the first 2.
    samplers = ranks_of(monkeypatch, 100, 4, world_size=3)
    for epoch in range(4):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        per_rank = [list(sampler) for sampler in samplers]
        drawn = samplers[0].epoch_indices(epoch).tolist()
        assert interleave(per_rank) == drawn + drawn[:2]
        # Without padding the ranks' images are disjoint and cover the draw.
        assert sum(map(len, per_rank)) - 2 == len(set().union(*per_rank)) == 25


def test_deterministic_for_seed_and_epoch(monkeypatch):
    first = make_sampler(monkeypatch, 200, 10, seed=7)
    again = make_sampler(monkeypatch, 200, 10, seed=7)
    other = make_sampler(monkeypatch, 200, 10, seed=8)
    for epoch in (0, 5, 11, 3):  # any order, as after a resume
        for sampler in (first, again, other):
            sampler.set_epoch(epoch)
        assert list(first) == list(again)
        assert list(first) != list(other)
    first.set_epoch(0)
    again.set_epoch(1)
    assert list(first) != list(again)


# (40, 3) at seed 3 matters: there, raw consecutive passes would put 3 images twice
# into the epochs that straddle them, which the sampler must avoid.
@pytest.mark.parametrize('num_images,parts', [(60, 15), (103, 15), (5, 15),
                                              (40, 3)])
def test_every_image_once_per_pass(monkeypatch, num_images, parts):
    sampler = make_sampler(monkeypatch, num_images, parts, seed=3)
    epochs = []
    for epoch in range(4 * parts + 1):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
        assert len(set(epochs[-1])) == len(epochs[-1]), 'repeat within epoch'
    stream = np.concatenate(epochs)
    passes = len(stream) // num_images
    assert passes >= 3
    for index in range(passes):
        one_pass = stream[index * num_images:(index + 1) * num_images]
        assert sorted(one_pass) == list(range(num_images))
    # The pass after the first is another shuffle, not a replay.
    assert not np.array_equal(stream[:num_images],
                              stream[num_images:2 * num_images])


def test_divisible_cycle_is_parts_epochs(monkeypatch):
    sampler = make_sampler(monkeypatch, 60, 15, seed=1)
    for cycle in range(2):
        seen = []
        for epoch in range(cycle * 15, (cycle + 1) * 15):
            sampler.set_epoch(epoch)
            seen += list(sampler)
        assert sorted(seen) == list(range(60))


def test_weighted_draw_follows_weights(monkeypatch):
    # Four groups of 100 images weighing 0, 1, 2 and 5: shares 0, 1/8, 2/8, 5/8.
    weights = np.repeat([0.0, 1.0, 2.0, 5.0], 100)
    sampler = make_sampler(monkeypatch, 400, 1, seed=0)
    sampler.set_weights(weights)
    drawn = []
    for epoch in range(20):
        sampler.set_epoch(epoch)
        drawn += list(sampler)
    drawn = np.array(drawn)
    assert (weights[drawn] > 0).all()
    shares = np.bincount(drawn // 100, minlength=4) / len(drawn)
    np.testing.assert_allclose(shares, [0, 1 / 8, 2 / 8, 5 / 8], atol=0.02)
    # With replacement: repeats within an epoch are expected at these sizes.
    assert len(set(drawn[:400].tolist())) < 400


def test_weighted_draw_is_split_across_ranks(monkeypatch):
    weights = np.linspace(0, 1, 90)
    samplers = ranks_of(monkeypatch, 90, 9, world_size=2, weights=weights)
    for epoch in range(3):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        drawn = samplers[0].epoch_indices(epoch).tolist()
        assert interleave([list(s) for s in samplers]) == drawn
        assert 0 not in drawn


def test_set_weights_none_returns_to_passes(monkeypatch):
    plain = make_sampler(monkeypatch, 50, 5, seed=4)
    toggled = make_sampler(monkeypatch, 50, 5, seed=4)
    toggled.set_weights(np.arange(50.0))
    toggled.set_epoch(2)
    plain.set_epoch(2)
    assert list(toggled) != list(plain)
    toggled.set_weights(None)
    assert toggled.weights is None
    assert list(toggled) == list(plain)


def test_weights_fixed_once_iterator_exists(monkeypatch):
    sampler = make_sampler(monkeypatch, 50, 1, seed=4)
    iterator = iter(sampler)
    sampler.set_weights(np.eye(50)[0])  # only image 0 from now on
    assert len(set(iterator)) == 50
    assert set(sampler) == {0}


@pytest.mark.parametrize('weights,message', [
    (np.ones(9), 'one value per image'),
    (np.ones((10, 1)), 'one value per image'),
    (np.r_[np.ones(9), np.nan], 'finite'),
    (np.r_[np.ones(9), np.inf], 'finite'),
    (np.r_[np.ones(9), -1.0], '>= 0'),
    (np.zeros(10), 'sum to zero'),
])
def test_invalid_weights_are_refused(monkeypatch, weights, message):
    sampler = make_sampler(monkeypatch, 10, 2)
    with pytest.raises(ValueError, match=message):
        sampler.set_weights(weights)
    assert sampler.weights is None


def test_invalid_arguments(monkeypatch):
    with pytest.raises(ValueError, match='parts'):
        make_sampler(monkeypatch, 10, 0)
    with pytest.raises(ValueError, match='non-empty'):
        make_sampler(monkeypatch, 0, 2)


def test_built_from_the_registry():
    sampler = DATA_SAMPLERS.build(dict(type='EpochPartSampler', parts=4),
                                  default_args=dict(dataset=list(range(20)),
                                                    seed=None))
    assert isinstance(sampler, EpochPartSampler)
    assert len(sampler) == 5 and isinstance(sampler.seed, int)


# ---- two real processes -------------------------------------------------------

NUM_IMAGES, PARTS, EPOCHS = 103, 9, 12  # total 11: odd, so one padded position


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank, port, out_dir):
    torch_dist.init_process_group('gloo',
                                  init_method=f'tcp://127.0.0.1:{port}',
                                  rank=rank, world_size=2)
    try:
        sampler = EpochPartSampler(list(range(NUM_IMAGES)), parts=PARTS)
        runs = {}
        for mode, weights in (('passes', None),
                              ('weighted', np.arange(NUM_IMAGES) % 3)):
            sampler.set_weights(weights)
            per_epoch = []
            for epoch in range(EPOCHS):
                sampler.set_epoch(epoch)
                mine = list(sampler)
                gathered = [None, None]
                torch_dist.all_gather_object(gathered, mine)
                per_epoch.append(gathered)
            runs[mode] = per_epoch
        with open(f'{out_dir}/rank{rank}.json', 'w') as file:
            json.dump(dict(seed=sampler.seed, length=len(sampler), runs=runs),
                      file)
    finally:
        torch_dist.destroy_process_group()


def test_two_processes(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2)
    results = [
        json.loads((tmp_path / f'rank{rank}.json').read_text())
        for rank in range(2)
    ]
    assert results[0] == results[1]  # same synced seed, same gathered draws
    seed, total = results[0]['seed'], NUM_IMAGES // PARTS
    assert results[0]['length'] == math.ceil(total / 2)
    reference = EpochPartSampler(list(range(NUM_IMAGES)), parts=PARTS,
                                 seed=seed)
    stream = []
    for epoch, (rank0, rank1) in enumerate(results[0]['runs']['passes']):
        drawn = reference.epoch_indices(epoch).tolist()
        assert interleave([rank0, rank1]) == drawn + [drawn[0]]
        assert not set(rank0) & set(rank1[:-1]), 'ranks overlap'
        stream += drawn
    assert sorted(stream[:NUM_IMAGES]) == list(range(NUM_IMAGES))

    reference.set_weights(np.arange(NUM_IMAGES) % 3)
    for epoch, (rank0, rank1) in enumerate(results[0]['runs']['weighted']):
        drawn = reference.epoch_indices(epoch).tolist()
        assert interleave([rank0, rank1]) == drawn + [drawn[0]]
        assert all(index % 3 for index in drawn)
