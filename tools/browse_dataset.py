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
import os.path as osp
import warnings

from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from tqdm import tqdm

import parkdet_mm  # noqa: F401  (registers modules)
from mmyolo.registry import DATASETS, VISUALIZERS
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.run_setup import add_data_args, data_primaries
from parkdet_mm.config import load_config
from parkdet_mm.engine.preflight import check_config_inputs
from parkdet_mm.visualization.batch_grid import draw_samples, write_png

# mmengine warns for every label drawn near a tile's edge; nothing to act on.
warnings.filterwarnings('ignore', message='Warning: The .* is out of bounds')


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
    images, samples, titles = [], [], []
    for index in tqdm(range(num), desc=f'browse {args.phase}', unit='sample'):
        item = dataset[index]
        sample = item['data_samples']
        images.append(item['inputs'].permute(1, 2, 0).numpy()[..., ::-1])  # RGB
        samples.append(sample)
        # OpenCV's font has no Hangul: the ASCII part of the name (its number).
        name = ''.join(c for c in osp.basename(sample.img_path) if c.isascii())
        titles.append(f'{sample.img_id}: {name}')
    out = args.out or osp.join(cfg.work_dir, f'browse_{args.phase}.png')
    write_png(out, draw_samples(visualizer, images, samples, titles))
    print(f'wrote {out}: {num} {args.phase} samples after the pipeline')


if __name__ == '__main__':
    run_cli(main)
