"""New anchors for a data set: YOLOv5's ``kmean_anchors`` (k-means, then a genetic
evolution), on numpy with a seeded generator instead of the global one."""
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from parkdet_mm.models.anchor_fit import ratio_metric

PREFIX = 'AutoAnchor: '

def evolve_anchors(sizes: Sequence[np.ndarray],
                   num_anchors: int,
                   img_size: int,
                   thr: float,
                   rng: np.random.Generator,
                   generations: int = 1000,
                   log: Callable[[str], None] = print) -> np.ndarray:
    """YOLOv5's ``kmean_anchors``: k-means on whitened box sizes, then a genetic
    mutation of the anchors for ``generations`` rounds, keeping improvements of
    the fitness ``mean(best ratio x [best ratio > 1 / thr])``. Boxes under 2 px
    on both sides are left out. Returns ``(num_anchors, 2)`` sorted by area.
    """
    from scipy.cluster.vq import kmeans
    wh0 = np.concatenate(sizes).astype(np.float32)
    small = int((wh0 < 3.0).any(1).sum())
    if small:
        log(f'{PREFIX}WARNING: Extremely small objects found: {small} of '
            f'{len(wh0)} labels are < 3 pixels in size')
    wh = wh0[(wh0 >= 2.0).any(1)]
    inv_thr = 1 / thr

    def fitness(k: np.ndarray) -> float:
        best = ratio_metric(wh, k.astype(np.float32)).max(1)
        return float((best * (best > inv_thr)).mean())

    log(f'{PREFIX}Running kmeans for {num_anchors} anchors on {len(wh)} '
        'points...')
    k = None
    if num_anchors <= len(wh):
        sigma = wh.std(0)
        k = kmeans(wh / sigma, num_anchors, iter=30, rng=rng)[0] * sigma
    if k is None or len(k) != num_anchors:
        log(f'{PREFIX}WARNING: switching strategies from kmeans to random init')
        k = np.sort(rng.random(num_anchors * 2)).reshape(num_anchors,
                                                         2) * img_size
    k = k[np.argsort(k.prod(1))]
    f, shape, mutation_prob, sigma = fitness(k), k.shape, 0.9, 0.1
    progress = tqdm(range(generations), desc=f'{PREFIX}Evolving anchors')
    for _ in progress:
        v = np.ones(shape)
        while (v == 1).all():  # mutate until something changes
            v = ((rng.random(shape) < mutation_prob) * rng.random() *
                 rng.standard_normal(shape) * sigma + 1).clip(0.3, 3.0)
        candidate = (k * v).clip(min=2.0)
        candidate_fitness = fitness(candidate)
        if candidate_fitness > f:
            f, k = candidate_fitness, candidate
            progress.set_description(
                f'{PREFIX}Evolving anchors with Genetic Algorithm: '
                f'fitness = {f:.4f}')
    k = k[np.argsort(k.prod(1))]
    x = ratio_metric(wh0, k.astype(np.float32))
    best = x.max(1)
    log(f'{PREFIX}thr={inv_thr:.2f}: {(best > inv_thr).mean():.4f} best '
        f'possible recall, {(x > inv_thr).mean() * num_anchors:.2f} anchors '
        f'past thr\n{PREFIX}n={num_anchors}, img_size={img_size}, '
        f'metric_all={x.mean():.3f}/{best.mean():.3f}-mean/best, '
        f'past_thr={x[x > inv_thr].mean():.3f}-mean: ' +
        ', '.join(f'{round(w)},{round(h)}' for w, h in k))
    return k
