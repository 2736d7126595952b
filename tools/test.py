"""Evaluate a checkpoint, or several fused, with a config's test loop.

    python tools/test.py CONFIG CHECKPOINT [CHECKPOINT ...] [--work-dir DIR] [--tta]
        [--out-dir DIR] [--img-size N] [--batch-size N] [--nms nms|soft]
        [--ensemble wbf|nms] [--wbf-iou 0.55] [--half] [--save-txt [--save-conf]]
        [--slice SIZE [--overlap 0.2]] [--out results.pkl] [--data-root DIR]
        [--ann-dir DIR] [--single-cls] [--cfg-options key=value ...]
        [--launcher none|pytorch|slurm|mpi]

The config's ``test_evaluator`` decides what is computed and written (the challenge
metric writes ``preds.json`` and the capped ``submission.json``). Several
checkpoints are fused as tools/predict.py fuses them; --half runs FP16 on CUDA;
--save-txt writes YOLOv5 val.py's WORK_DIR/labels/STEM.txt (--save-conf: scores).
``--slice SIZE`` tests twice, plainly and with sliced inference (SIZE x SIZE tiles of
each image as well, merged by the NMS), prints both mAPs side by side and writes the
sliced files.
"""
import argparse
import copy

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_inference_args,
    add_runner_args,
    build_runner,
    check_device_args,
    config_from_args,
    inference_primaries,
    parse_runner_args,
    set_test_model,
)
from parkdet_mm.apis.sliced import add_slice_args, enable_sliced_inference
from parkdet_mm.engine.preflight import check_config_inputs, check_cuda_ops


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a parkdet_mm detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoints', nargs='+', metavar='CHECKPOINT',
                        help='checkpoint file; several are fused')
    parser.add_argument('--work-dir', help='folder for logs')
    parser.add_argument(
        '--tta', action='store_true', help="use the config's tta_model")
    parser.add_argument(
        '--out-dir',
        help='where the challenge metric writes preds.json and submission.json '
        '(default: WORK_DIR/submission)')
    parser.add_argument(
        '--out', metavar='RESULTS.pkl',
        help="also dump every image's predictions in MMDetection's format "
        "(DumpDetResults, written atomically) for its analysis tools")
    parser.add_argument(
        '--single-cls', action='store_true', default=None,
        help="YOLOv5's --single-cls: every class as one, 'item' (a model "
        'trained with --single-cls)')
    parser.add_argument('--half', action='store_true',
                        help="FP16 inference (YOLOv5's --half): CUDA only")
    add_inference_args(parser)
    add_slice_args(parser)
    add_data_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    check_device_args(args)
    check_cuda_ops()  # on a GPU, mmcv without CUDA ops would fail at the first NMS
    cfg = config_from_args(args, dict(inference_primaries(args),
                                      single_cls=args.single_cls))
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, dict) and 'out_dir' in evaluator:
        evaluator.out_dir = (args.out_dir or evaluator.out_dir
                             or f'{cfg.work_dir}/submission')
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise InputError(f'--out {args.out}: must end in .pkl or .pickle')
        # as MMDetection's tools/test.py --out
        evaluators = (list(cfg.test_evaluator)
                      if isinstance(cfg.test_evaluator, (list, tuple))
                      else [cfg.test_evaluator])
        cfg.test_evaluator = evaluators + [
            dict(type='AtomicDumpDetResults', out_file_path=args.out)]
    for checkpoint in args.checkpoints:
        check_config_inputs(cfg, ('test', ), checkpoint=checkpoint)
    if args.save_txt:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='YOLOLabelsHook', save_conf=args.save_conf)]
    plain = None
    if args.slice:
        # the plain test first, for the comparison; the sliced one writes the files
        plain_cfg = copy.deepcopy(cfg)
        set_test_model(plain_cfg, args.checkpoints, args.tta, args.half,
                       args.ensemble, args.wbf_iou)
        plain = build_runner(plain_cfg).test()
        enable_sliced_inference(cfg, args.slice, args.overlap, args.tta)
        cfg.visualizer.name = 'sliced_test'  # a second runner in this process
    # sliced inference runs in the tta_model's place
    set_test_model(cfg, args.checkpoints, args.tta or bool(args.slice), args.half,
                   args.ensemble, args.wbf_iou)

    metrics = build_runner(cfg).test()
    if plain is not None:
        print(slice_comparison(plain, metrics, args.slice, args.overlap))


def slice_comparison(plain: dict, sliced: dict, size: int, overlap: float) -> str:
    """The mAPs of the plain and the sliced test, side by side."""
    keys = [k for k in plain if k.rsplit('/', 1)[-1] in ('mAP', 'mAP_50', 'mAP_75')]
    rows = [f'{"":12s} {"plain":>8s} {"sliced":>8s}']
    rows += [f'{k.rsplit("/", 1)[-1]:12s} {plain[k]:8.4f} {sliced[k]:8.4f}' for k in keys]
    return f'--slice {size} --overlap {overlap}:\n' + '\n'.join(rows)


if __name__ == '__main__':
    run_cli(main)
