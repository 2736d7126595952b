"""YOLOv5's AutoAnchor check of a config's anchors on its boxes, without training.

    python tools/check_anchors.py CONFIG [--data-root DIR] [--ann-dir DIR]
        [--seed N] [--generations 1000] [--cfg-options key=value ...]

Prints YOLOv5's figures for the configured anchors (anchors/target and best possible
recall of the training boxes at the training size and prior_match_thr, each image
rescaled by a random 0.9-1.1), as AutoAnchorHook logs them before training. The
anchors are the config's, or, as in training, those of its ``load_from`` checkpoint
when it carries some (``meta['anchors']``). At or
below 0.98 BPR it evolves anchors (k-means, then a genetic algorithm) and, when they
are better, prints them as config lines to paste into a config.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

import parkdet_mm  # noqa: F401  (registers modules)
from parkdet_challenge.errors import run_cli
from parkdet_mm.apis.run_setup import add_data_args, data_primaries
from parkdet_mm.config import config_training_size, load_config
from parkdet_mm.engine.checkpoint import (
    cached_checkpoint_path,
    is_url,
    load_local_checkpoint,
)
from parkdet_mm.engine.preflight import check_config_inputs
from parkdet_mm.models.anchors import anchors_config_lines, apply_checkpoint_anchors
from parkdet_mm.models.autoanchor import check_dataset_anchors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check a config's anchors against its training boxes")
    parser.add_argument('config', help='config file path')
    add_data_args(parser)
    parser.add_argument('--seed', type=int,
                        help="random seed (default: the config's randomness.seed)")
    parser.add_argument('--generations', type=int, default=1000,
                        help='rounds of the genetic evolution (YOLOv5: 1000)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, data_primaries(args))
    check_config_inputs(cfg, ('train', ))
    img_size = config_training_size(cfg).img_size
    load_from = cfg.get('load_from')
    if load_from and is_url(load_from):  # its copy in torch's hub cache, if any
        load_from = cached_checkpoint_path(load_from)
    if load_from and '://' not in load_from and osp.isfile(load_from):
        # AutoAnchorHook checks the model after load_from has set its anchors
        found = apply_checkpoint_anchors(
            cfg, load_local_checkpoint(load_from, map_location='cpu', mmap=True))
        if found is not None:
            print(f'anchors from load_from {load_from}, as training takes them')
    from mmengine.registry import init_default_scope

    from mmyolo.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmyolo'))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    head = cfg.model.bbox_head
    seed = args.seed if args.seed is not None else \
        cfg.get('randomness', {}).get('seed') or 0
    anchors = [[list(pair) for pair in level]
               for level in head.prior_generator.base_sizes]
    print(f'{len(dataset)} training images at {img_size} px, '
          f'prior_match_thr {head.prior_match_thr}, anchors {anchors}')
    evolved = check_dataset_anchors(
        dataset, anchors, head.prior_generator.strides, head.prior_match_thr,
        img_size, seed, args.generations)
    if evolved is not None:
        print('evolved anchors, as config lines:')
        print(anchors_config_lines(evolved))


if __name__ == '__main__':
    run_cli(main)
