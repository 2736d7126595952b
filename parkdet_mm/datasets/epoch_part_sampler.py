"""Epoch parts: each training "epoch" reads ``N // parts`` images (docs/reference.md section 6).

The reference drew every epoch's images with replacement (``RandomSampler(
replacement=True)``) and, on several GPUs, gave each rank a fixed slice of the data.
:class:`EpochPartSampler` keeps the epoch size and instead walks shuffled passes over
the whole set, so every image is read once per pass; with image weights
(:meth:`EpochPartSampler.set_weights`, docs/reference.md section 7) it draws with replacement in
proportion to the weights, as the reference did, and unlike the reference it does so on
any number of processes. With image weights it also draws each sample's mosaic
partner tiles by the same weights (:class:`MosaicIndex`), as the reference's mosaic
did (docs/reference.md section 7), and, for MixUp, those of the second mosaic blended in.
"""
import math
from typing import Iterable, Iterator, Optional, Sequence, Sized, Union

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmyolo.registry import DATA_SAMPLERS

# Tags that keep the random streams of the two modes apart for the same seed.
_PASS_STREAM = 0
_WEIGHTED_STREAM = 1
_PARTNER_STREAM = 2
_MIXUP_PARTNER_STREAM = 3


class MosaicIndex(int):
    """A dataset index that also names the images of its mosaic's other tiles.

    It is an ``int`` everywhere the dataset uses it; mmengine's
    ``BaseDataset.get_data_info`` stores the index it is given as the sample's
    ``sample_idx``, which is how ``partners`` reach
    :class:`~parkdet_mm.datasets.transforms.WeightedMosaic` in the pipeline, in
    any dataloader worker, without state shared between processes.
    ``mixup_partners`` (possibly empty) are the partner tiles of the second mosaic
    that :class:`~parkdet_mm.datasets.transforms.WeightedMixUp` blends in.
    """

    partners: tuple
    mixup_partners: tuple

    def __new__(cls, index: int, partners: Iterable[int],
                mixup_partners: Iterable[int] = ()) -> 'MosaicIndex':
        obj = super().__new__(cls, index)
        obj.partners = tuple(int(p) for p in partners)
        obj.mixup_partners = tuple(int(p) for p in mixup_partners)
        return obj

    def __reduce__(self):
        # Sent to dataloader workers by pickle: keep the partners.
        return MosaicIndex, (int(self), self.partners, self.mixup_partners)

    def __repr__(self) -> str:
        mixup = (f', mixup_partners={self.mixup_partners}'
                 if self.mixup_partners else '')
        return f'MosaicIndex({int(self)}, partners={self.partners}{mixup})'


@DATA_SAMPLERS.register_module()
class EpochPartSampler(Sampler):
    """Draw ``total = max(1, N // parts)`` indices per epoch, over all processes.

    What is drawn, for a given ``(seed, epoch)``:

    - **Unweighted** (the default, or after ``set_weights(None)``): think of an endless
      stream made of passes, each pass a fresh permutation of all ``N`` indices seeded
      by ``(seed, pass number)``. Epoch ``e`` takes stream positions
      ``[e * total, (e + 1) * total)``. So every image is read exactly once per pass
      and no image repeats within an epoch. When ``parts`` divides ``N`` a pass is
      exactly ``parts`` epochs. Otherwise the ``N mod parts`` images left over by
      ``parts`` epochs open the next epoch, which then finishes with the start of the
      next pass: a pass lasts ``N / total`` epochs (21,650 images in 15 parts: 15.0035
      epochs) instead of leaving those images out. The epoch that straddles two passes
      still holds no repeats: images of the new pass's first items that the old pass's
      tail already gave that epoch are swapped with later items of the new pass.
    - **Weighted** (after ``set_weights(weights)``): ``total`` indices drawn with
      replacement, index ``i`` with probability ``weights[i] / sum(weights)``, from a
      generator seeded by ``(seed, epoch)``. A zero weight is never drawn. The
      reference drew ``N`` images by weight and then ``N / parts`` of those uniformly
      with replacement; each pick has the same distribution as here. Each index is
      yielded as a :class:`MosaicIndex` carrying ``mosaic_partners`` more indices
      drawn the same way (from a stream of their own, so the first tiles do not
      depend on them): the reference's mosaic took its three partner tiles uniformly
      from the epoch's weighted list, i.e. by the weights too. With
      ``mixup_partners``, it also carries that many more (from a third stream):
      the partner tiles of the second mosaic MixUp blends in, which YOLOv5 drew
      from the same weighted list.

    Split across processes: the ``total`` indices are padded to a multiple of the world
    size by repeating their own first items (as ``DefaultSampler(round_up=True)``
    does), and rank ``r`` takes positions ``r, r + world_size, ...``. Every rank
    computes the same global list, so the ranks' shares are disjoint positions of one
    draw, and ``len(sampler) = ceil(total / world_size)`` on each rank.

    The draw depends only on ``(seed, epoch, weights)``. mmengine's
    ``DistSamplerSeedHook`` calls :meth:`set_epoch` before every epoch, and a resumed
    run restores the epoch, so ``--resume`` continues the same sequence provided the
    seed is the same (set ``randomness = dict(seed=...)``: mmengine builds the
    dataloader before it restores a checkpoint's seed). The indices are computed when
    the epoch's iterator is created, so ``set_epoch`` and ``set_weights`` may be
    called in any order before that.

    Args:
        dataset (Sized): The dataset to sample from; ``N = len(dataset)``.
        parts (int): Epoch parts: each epoch reads ``max(1, N // parts)`` images.
            Defaults to 15, the reference's value.
        seed (int, optional): Non-negative seed, identical on every process. None
            draws one and shares it across processes (as ``DefaultSampler`` does);
            the runner passes its own seed. Defaults to None.
        mosaic_partners (int): Partner indices drawn per sample by weight (3 for
            a 4-tile mosaic); 0 yields plain ints. Unweighted epochs always
            yield plain ints, and the mosaic draws its partners uniformly.
            Defaults to 3.
        mixup_partners (int): Partner indices drawn per sample by weight for
            MixUp's second mosaic (3 when MixUp is on, else 0). Defaults to 0.
    """

    def __init__(self,
                 dataset: Sized,
                 parts: int = 15,
                 seed: Optional[int] = None,
                 mosaic_partners: int = 3,
                 mixup_partners: int = 0) -> None:
        if parts < 1:
            raise ValueError(f'parts must be >= 1, got {parts}')
        if mosaic_partners < 0 or mixup_partners < 0:
            raise ValueError('mosaic_partners and mixup_partners must be >= 0, '
                             f'got {mosaic_partners} and {mixup_partners}')
        num_images = len(dataset)
        if num_images == 0:
            raise ValueError('EpochPartSampler needs a non-empty dataset')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.parts = parts
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_images = num_images
        self.mosaic_partners = mosaic_partners
        self.mixup_partners = mixup_partners
        self.total = max(1, num_images // parts)
        self.num_samples = math.ceil(self.total / self.world_size)
        self._weights: Optional[np.ndarray] = None

    @property
    def weights(self) -> Optional[np.ndarray]:
        """The per-image weights in use (read-only), or None when unweighted."""
        return self._weights

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose indices the next iterator yields."""
        self.epoch = epoch

    def set_weights(
            self, weights: Optional[Union[Sequence[float],
                                          np.ndarray]]) -> None:
        """Draw by weight from the next iterator on, or uniformly again with None.

        Args:
            weights: One non-negative finite weight per image, with a positive sum;
                identical on every process. None returns to unweighted passes.

        Raises:
            ValueError: the weights do not meet the conditions above.
        """
        if weights is None:
            self._weights = None
            return
        weights = np.array(weights, dtype=np.float64)
        if weights.shape != (self.num_images, ):
            raise ValueError(
                f'weights must have one value per image, shape '
                f'({self.num_images},), got shape {weights.shape}')
        if not np.isfinite(weights).all():
            raise ValueError('weights must be finite (found NaN or inf)')
        if (weights < 0).any():
            raise ValueError('weights must be >= 0')
        if weights.sum() <= 0:
            raise ValueError(
                'weights sum to zero: no image can be drawn (with image weights, '
                'every image has no boxes of a class with weight > 0)')
        weights.setflags(write=False)
        self._weights = weights

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices for the current epoch."""
        indices = self.epoch_indices(self.epoch)
        padded_size = self.num_samples * self.world_size
        # Padding repeats from the front; rank r takes every world_size-th position.
        positions = np.resize(np.arange(len(indices)),
                              padded_size)[self.rank::self.world_size]
        if self._weights is None or self.mosaic_partners == 0:
            return iter(indices[positions].tolist())
        partners = self.epoch_partners(self.epoch)[positions].tolist()
        mixup = (self.epoch_partners(self.epoch, mixup=True)[positions].tolist()
                 if self.mixup_partners else [()] * len(positions))
        return iter([
            MosaicIndex(index, row, mixup_row) for index, row, mixup_row in zip(
                indices[positions].tolist(), partners, mixup)
        ])

    def __len__(self) -> int:
        """The number of indices this rank yields per epoch."""
        return self.num_samples

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """All processes' ``total`` indices for ``epoch`` in draw order, unpadded."""
        if self._weights is None:
            return self._epoch_of_passes(epoch)
        return self._weighted_draw(epoch)

    def epoch_partners(self, epoch: int, mixup: bool = False) -> np.ndarray:
        """The weighted epoch's mosaic partners: row ``k`` for ``epoch_indices``'s
        ``k``-th index, ``mosaic_partners`` columns, drawn by weight with
        replacement from a generator seeded by ``(seed, epoch)``; with ``mixup``,
        the ``mixup_partners`` of MixUp's second mosaic, from a stream of their
        own."""
        if self._weights is None:
            raise ValueError('mosaic partners are drawn by weight only; call '
                             'set_weights first')
        stream, columns = ((_MIXUP_PARTNER_STREAM, self.mixup_partners) if mixup
                           else (_PARTNER_STREAM, self.mosaic_partners))
        rng = np.random.default_rng([self.seed, stream, epoch])
        probabilities = self._weights / self._weights.sum()
        return rng.choice(
            self.num_images, size=(self.total, columns), p=probabilities)

    def _weighted_draw(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, _WEIGHTED_STREAM, epoch])
        probabilities = self._weights / self._weights.sum()
        return rng.choice(self.num_images, size=self.total, p=probabilities)

    def _epoch_of_passes(self, epoch: int) -> np.ndarray:
        start = epoch * self.total
        pass_index, offset = divmod(start, self.num_images)
        order = self._pass(pass_index)
        end = offset + self.total
        if end <= self.num_images:
            return order[offset:end]
        head = self._pass(pass_index + 1)[:end - self.num_images]
        return np.concatenate([order[offset:], head])

    def _raw_pass(self, pass_index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, _PASS_STREAM, pass_index])
        return rng.permutation(self.num_images)

    def _pass(self, pass_index: int) -> np.ndarray:
        """Pass ``pass_index``'s order, its head cleared of the straddling tail."""
        order = self._raw_pass(pass_index)
        # The epoch that straddles passes k-1 and k takes the last `tail_len` items of
        # pass k-1 and the first `head_len` items of pass k.
        tail_len = (pass_index * self.num_images) % self.total
        if pass_index == 0 or tail_len == 0:
            return order
        head_len = self.total - tail_len
        in_tail = np.zeros(self.num_images, dtype=bool)
        in_tail[self._raw_pass(pass_index - 1)[-tail_len:]] = True
        taken = in_tail[order]
        clashes = np.flatnonzero(taken[:head_len])
        # The first len(clashes) non-tail items after the head lie before position
        # `total` (at most tail_len - len(clashes) tail items sit in between), and a
        # pass's own tail starts after N - total >= total (parts >= 2 whenever a tail
        # exists). So the swap never touches a tail: using the raw previous pass above
        # is exact, and no pass depends on more than the one before it.
        spares = np.flatnonzero(~taken[head_len:])[:len(clashes)] + head_len
        order[clashes], order[spares] = order[spares], order[clashes]
        return order
