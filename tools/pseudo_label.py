"""Turn a model's predictions on unlabelled images into a COCO training file.

    python tools/pseudo_label.py CONFIG CHECKPOINT --score-thr 0.5 [--out FILE]
        [--ann-file FILE] [--tta] [--img-size N] [--batch-size N]
        [--data-root DIR] [--ann-dir DIR] [--cfg-options ...]

Predicts the images of --ann-file (default: the config's test file, the images a
submission is made on) as tools/predict.py does, keeps every box scoring at least
--score-thr and writes them, with the images that have one, as a COCO file (default
ANN_DIR/pseudo_labels.json; each annotation keeps its score, and COCO's info says
what made it). The next stage trains on them only when asked:
    python tools/train.py configs/finetune.py --cfg-options pseudo_label_file=FILE
"""
import argparse
import os.path as osp

import torch

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis import check_test_images
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_inference_args,
    add_runner_args,
    config_from_args,
    inference_primaries,
    parse_runner_args,
)
from parkdet_mm.engine.checkpoint import check_checkpoint_file
from parkdet_mm.engine.preflight import check_cuda_ops
from parkdet_mm.tuning.prediction import predict_set
from parkdet_mm.tuning.pseudo_labels import pseudo_label_coco


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='boxes scoring at least this become labels (0.5)')
    parser.add_argument('--out', help='default: ANN_DIR/pseudo_labels.json')
    parser.add_argument('--ann-file',
                        help="the COCO file of the unlabelled images (default: the "
                        "config's test file)")
    parser.add_argument('--tta', action='store_true',
                        help="YOLOv5's test-time augmentation")
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    add_inference_args(parser)
    add_data_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    check_cuda_ops(args.device)
    if not 0 < args.score_thr <= 1:
        raise InputError(f'--score-thr {args.score_thr}: must be in (0, 1]')
    cfg = config_from_args(args, inference_primaries(args))
    if args.ann_file:
        cfg.test_dataloader.dataset.ann_file = osp.abspath(args.ann_file)
        cfg.test_evaluator.ann_file = osp.abspath(args.ann_file)
    ann_file = cfg.test_evaluator.ann_file
    check_test_images(cfg.data_root, ann_file)
    check_checkpoint_file(args.checkpoint)
    out = args.out or osp.join(cfg.data_root, cfg.ann_dir, 'pseudo_labels.json')
    labelled = {osp.abspath(osp.join(cfg.data_root, cfg[key]))
                for key in ('train_ann_file', 'val_ann_file')}
    if osp.abspath(out) in labelled | {osp.abspath(ann_file)}:
        raise InputError(f'--out {out} is an annotation file of the config; write the '
                         'pseudo-labels beside it')
    predictions = predict_set(cfg, args.checkpoint, args.tta, args.device)
    coco = pseudo_label_coco(
        predictions, ann_file, cfg.metainfo['classes'], args.score_thr,
        dict(checkpoint=osp.abspath(args.checkpoint), images=osp.abspath(ann_file),
             score_thr=args.score_thr, tta=args.tta))
    write_json_atomic(out, coco)
    print(f"wrote {out}: {len(coco['annotations'])} boxes scoring >= {args.score_thr} "
          f"on {len(coco['images'])} of {len(predictions)} images\n"
          f'train on them: --cfg-options pseudo_label_file={osp.abspath(out)}')


if __name__ == '__main__':
    run_cli(main)
