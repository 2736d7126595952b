"""Draw what the model is fed: a grid of pipeline outputs with their boxes.

    python tools/browse_dataset.py CONFIG [--phase train|val] [--num 16] [--out FILE]
        [--data-root DIR] [--ann-dir DIR]

Each tile is one sample after the config's whole pipeline (for train: mosaic,
affine, HSV, flip), with its ground-truth boxes and class names drawn and the index
image's id and file name above it, like YOLOv5's train_batch pictures. Samples are
the first --num of the dataset in order, with the config's random seed, so the grid
is the same on every run. Writes FILE (default WORK_DIR/browse_{phase}.png).
--data-root/--ann-dir read another copy of the data, as in tools/train.py.
"""
import argparse
import math
import os.path as osp
import warnings

import cv2
import numpy as np
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from tqdm import tqdm

import parkdet_mm  # noqa: F401  (registers modules)
from mmyolo.registry import DATASETS, VISUALIZERS
from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.cli import InputError, run_cli
from parkdet_mm.config import load_config
from parkdet_mm.utils import add_data_args, check_config_inputs, data_primaries

# mmengine warns for every label drawn near a tile's edge; nothing to act on.
warnings.filterwarnings('ignore', message='Warning: The .* is out of bounds')

TILE_TITLE = 18  # pixels of the file-name strip above each tile


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--phase', choices=['train', 'val'], default='train')
    parser.add_argument('--num', type=int, default=16,
                        help='samples in the grid')
    parser.add_argument('--out', help='PNG (default WORK_DIR/browse_PHASE.png)')
    add_data_args(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def titled(tile: np.ndarray, title: str, size: int) -> np.ndarray:
    """``tile`` (RGB) fitted into ``size`` x ``size`` below a strip with ``title``."""
    scale = size / max(tile.shape[:2])
    tile = cv2.resize(tile, (max(1, round(tile.shape[1] * scale)),
                             max(1, round(tile.shape[0] * scale))))
    out = np.full((size + TILE_TITLE, size, 3), 255, np.uint8)
    out[TILE_TITLE:TILE_TITLE + tile.shape[0], :tile.shape[1]] = tile
    cv2.putText(out, title[:size // 8], (2, TILE_TITLE - 5),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def grid(tiles: list, columns: int, border: int = 2) -> np.ndarray:
    """Tiles of one size in rows of ``columns``, white between them."""
    height, width = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / columns)
    out = np.full((rows * (height + border) + border,
                   columns * (width + border) + border, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        y = border + (i // columns) * (height + border)
        x = border + (i % columns) * (width + border)
        out[y:y + height, x:x + width] = tile
    return out


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, data_primaries(args))
    if args.num < 1:
        raise InputError(f'--num {args.num} must be at least 1')
    check_config_inputs(cfg, [args.phase])
    init_default_scope(cfg.get('default_scope', 'mmyolo'))
    set_random_seed(cfg.get('randomness', {}).get('seed') or 0)
    dataset = DATASETS.build(cfg[f'{args.phase}_dataloader'].dataset)
    if len(dataset) == 0:
        raise InputError(f'the {args.phase} dataset of {args.config} is empty')
    visualizer = VISUALIZERS.build(
        dict(type='mmdet.DetLocalVisualizer', name='browse', vis_backends=[]))
    visualizer.dataset_meta = dataset.metainfo
    num = min(args.num, len(dataset))
    drawn = []
    for index in tqdm(range(num), desc=f'browse {args.phase}', unit='sample'):
        item = dataset[index]
        sample = item['data_samples']
        boxes = sample.gt_instances.bboxes
        # mmdet's visualizer draws plain tensors, not box-type objects.
        sample.gt_instances.bboxes = getattr(boxes, 'tensor', boxes)
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # BGR -> RGB
        visualizer.add_datasample('browse', np.ascontiguousarray(image), sample,
                                  draw_pred=False)
        # OpenCV's font has no Hangul: the ASCII part of the name (its number).
        name = ''.join(c for c in osp.basename(sample.img_path) if c.isascii())
        drawn.append((visualizer.get_image(), f'{sample.img_id}: {name}'))
    # Tiles as large as the model's input, in a grid at most 1920 pixels wide.
    columns = math.ceil(math.sqrt(num))
    size = min(max(max(image.shape[:2]) for image, _ in drawn),
               1920 // columns)
    tiles = [titled(image, title, size) for image, title in drawn]
    out = args.out or osp.join(cfg.work_dir, f'browse_{args.phase}.png')
    ok, encoded = cv2.imencode('.png', grid(tiles, columns)[..., ::-1])
    write_bytes_atomic(out, encoded.tobytes())
    print(f'wrote {out}: {num} {args.phase} samples after the pipeline')


if __name__ == '__main__':
    run_cli(main)
