"""Predict the test set and write the challenge submission.

    python tools/predict.py [CONFIG | WORK_DIR] [CHECKPOINT ...] --data-root DATA
        [--ann-dir DIR] [--out-dir DIR] [--tta/--no-tta] [--max-bytes N] [--batch-size 16]
        [--img-size 1536] [--nms nms|soft] [--ensemble wbf|nms] [--show-dir DIR]
        [--save-txt [--save-conf]] [--device cuda|cpu] [--half]
        [--backend pytorch|onnxruntime|openvino] [--slice SIZE [--overlap 0.2]]
        [--folds K [--fold-weights [OOF_SCORES]]]
    bash tools/dist_predict.sh [CONFIG] [CHECKPOINT ...] NPROC --data-root DATA ...

Defaults are the reference's: 1536 px, TTA, several checkpoints fused. Without
CONFIG: the final checkpoint of the last of configs/finetune.py and
configs/baseline.py to finish; a WORK_DIR names a finished run's config and
checkpoint; without CHECKPOINT, the config's final one (a 2021 fine-tune: also its
baseline's). Writes preds.json, submission.json and, on labelled data, scores.json
(parkdet_mm.apis.predict_from_paths; docs/inference.md). --folds K predicts with
the K fold models of tools/kfold.py (CONFIG's final checkpoint of each fold), fused
the same way (--fold-weights: weighted by their held-out fitness); --slice SIZE runs
each model on SIZE x SIZE tiles of each image as well, merged by the NMS.
"""
import argparse

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import run_cli
from parkdet_mm.apis import predict_from_paths
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_device_args,
    add_fold_args,
    add_inference_args,
    add_runner_args,
    check_device_args,
    data_primaries,
    flush_denormals_on_cpu,
    inference_primaries,
    init_process_group,
    parse_runner_args,
)
from parkdet_mm.apis.sliced import add_slice_args
from parkdet_mm.engine.preflight import check_cuda_ops

DEFAULT_CONFIG = 'configs/finetune.py'
# Without a config: the last of these training stages to finish.
DEFAULT_STAGES = (DEFAULT_CONFIG, 'configs/baseline.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict the test set and write the capped submission')
    parser.add_argument(
        'paths',
        nargs='*',
        metavar='CONFIG | WORK_DIR | CHECKPOINT',
        help='a config or a finished run\'s work dir (default: the last of '
        f'{", ".join(DEFAULT_STAGES)} to finish), then checkpoints (default: the '
        "config's final checkpoint); several are fused")
    add_data_args(parser)
    parser.add_argument('--out-dir', help='default: WORK_DIR/submission')
    parser.add_argument('--tta', action=argparse.BooleanOptionalAction,
                        default=True, help="YOLOv5's test-time augmentation")
    parser.add_argument('--max-bytes', type=int,
                        help="submission.json stays strictly below this size "
                        "(default: the data format's cap, the challenges' 20 MB)")
    add_inference_args(parser)
    add_slice_args(parser)
    add_fold_args(parser)
    parser.add_argument('--show-dir',
                        help='draw the predictions on a few images here')
    parser.add_argument('--show-num', type=int, default=8)
    parser.add_argument('--show-score-thr', type=float, default=0.3)
    add_device_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    device = check_device_args(args)
    check_cuda_ops(device)  # mmcv without CUDA ops fails at the first NMS
    flush_denormals_on_cpu()
    init_process_group(args.launcher)
    primaries = dict(**data_primaries(args), **inference_primaries(args))
    predict_from_paths(
        args.paths, DEFAULT_CONFIG, DEFAULT_STAGES, args.folds, args.fold_weights,
        args.cfg_options, primaries, out_dir=args.out_dir, max_bytes=args.max_bytes,
        save_txt=args.save_txt, save_conf=args.save_conf, show_dir=args.show_dir,
        show_num=args.show_num, show_score_thr=args.show_score_thr,
        slice_size=args.slice, overlap=args.overlap, tta=args.tta, device=device,
        half=args.half, backend=args.backend, ensemble=args.ensemble,
        wbf_iou=args.wbf_iou)


if __name__ == '__main__':
    run_cli(main)
