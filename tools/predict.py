"""Predict the test set and write the challenge submission.

    python tools/predict.py [CONFIG | WORK_DIR] [CHECKPOINT ...] --data-root DATA
        [--ann-dir DIR] [--out-dir DIR] [--tta/--no-tta] [--max-bytes N] [--batch-size 16]
        [--img-size 1536] [--nms nms|soft] [--ensemble wbf|nms] [--show-dir DIR]
        [--folds K [--fold-weights [OOF_SCORES]]] [--slice SIZE [--overlap 0.2]]
    bash tools/dist_predict.sh [CONFIG] [CHECKPOINT ...] NPROC --data-root DATA ...

Defaults are the reference's: the last stage's final checkpoint (below), images
at 1536, score >= 0.01, class-aware NMS at IoU 0.7, multi-label, at most 50 boxes per
image, YOLOv5's TTA. Several checkpoints are fused per image by weighted boxes fusion
(--ensemble wbf) or as YOLOv5's Ensemble (--ensemble nms: every model's raw, TTA'd
predictions concatenated, one NMS); a config's ``predict_ensemble`` sets the default
(configs/challenge2021: nms, with its 2021 defaults and submission format).
Without CONFIG: the final checkpoint of the last of configs/finetune.py and
configs/baseline.py to finish (one line says which). Without CHECKPOINT: the
config's final checkpoint (the one its last finished run recorded, whatever
--epochs it trained); with a 2021 fine-tune config, the
baseline's and the fine-tune's, ensembled with NMS as the 2021 reference's predict
did (the config's ``predict_with_load_from``). A WORK_DIR (a finished run's, or
tools/train_pipeline.sh --work-dir's folder of stages) names the config and the
checkpoint its last finished run ended with. --ann-dir defaults to the config's
ann_dir below --data-root (DATA/annotations).
--folds K predicts with the K fold models of tools/kfold.py (each fold's final
checkpoint of CONFIG), fused the same way; with --fold-weights, weighted boxes fusion
weighs each by its held-out fitness (tools/kfold.py's oof_scores.json).
--slice SIZE runs each model on SIZE x SIZE tiles of each image as well (overlapping
by --overlap), merged with the whole image's boxes by the NMS (small objects).
Writes OUT_DIR/preds.json (every record) and OUT_DIR/submission.json (under the
format's cap), and OUT_DIR/scores.json (mAP and the rest) when the annotation file
has boxes (e.g. val.json as test.json).
Under several processes (``--launcher pytorch|slurm``) each predicts whole batches of
the test set and rank 0 writes the same files, byte for byte, as one process would.
"""
import argparse
import os.path as osp

import torch
from mmengine.structures import InstanceData

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from mmyolo.registry import METRICS, VISUALIZERS
from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.cli import InputError, run_cli
from parkdet_mm.apis import (
    check_test_images,
    fuse_models,
    gather_predictions,
    predict_nms_ensemble,
    predict_with_checkpoint,
    share_test_batches,
)
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_inference_args,
    add_runner_args,
    data_primaries,
    flush_denormals_on_cpu,
    inference_primaries,
    init_process_group,
    parse_runner_args,
)
from parkdet_mm.apis.sliced import add_slice_args, enable_sliced_inference
from parkdet_mm.config import (
    finished_checkpoint,
    finished_run_in,
    last_finished_stage,
    load_config,
)
from parkdet_mm.engine.checkpoint import check_checkpoint_file
from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.engine.preflight import check_cuda_ops
from parkdet_mm.tuning.kfold import OOF_SCORES, fold_checkpoints, kfold_dir, oof_weights

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
    parser.add_argument('--ensemble', choices=('wbf', 'nms'),
                        help='how several checkpoints are fused: wbf (weighted boxes '
                        "fusion) or nms (YOLOv5's Ensemble); default: the config's "
                        "predict_ensemble, else wbf")
    parser.add_argument('--wbf-iou', type=float, default=0.55,
                        help='IoU at which weighted boxes fusion merges boxes')
    parser.add_argument('--folds', type=int, metavar='K',
                        help="the K fold models of tools/kfold.py (each fold's final "
                        'checkpoint of CONFIG), fused as --ensemble says')
    parser.add_argument('--fold-weights', nargs='?', const='', metavar='OOF_SCORES',
                        help='with --folds and wbf: weigh each fold model by its '
                        'held-out fitness in tools/kfold.py\'s oof_scores.json '
                        '(default: the one of CONFIG)')
    parser.add_argument('--show-dir',
                        help='draw the predictions on a few images here')
    parser.add_argument('--show-num', type=int, default=8)
    parser.add_argument('--show-score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    add_runner_args(parser)
    return parse_runner_args(parser)


def split_paths(paths):
    """``[CONFIG | WORK_DIR] [CHECKPOINT ...]`` as ``(config, checkpoints, work
    dir)``: a leading .py file is the config; a leading folder, a finished run's
    work dir (its config, final checkpoint first, and folder); nothing: ``(None,
    [], None)``, the last default stage to finish."""
    if paths and paths[0].endswith('.py'):
        return paths[0], paths[1:], None
    if paths and osp.isdir(paths[0]):
        config, final, work_dir = finished_run_in(paths[0])
        return config, [final] + paths[1:], work_dir
    return (DEFAULT_CONFIG if paths else None), paths, None


def draw(predictions, dataset, show_dir: str, count: int,
         score_thr: float) -> None:
    """Save ``count`` test images with their boxes drawn, for a person to look at."""
    import mmcv
    from mmdet.structures import DetDataSample
    visualizer = VISUALIZERS.build(
        dict(type='mmdet.DetLocalVisualizer', name='predict_show',
             vis_backends=[dict(type='LocalVisBackend')]))
    visualizer.dataset_meta = dataset.metainfo
    for index in range(min(count, len(dataset))):
        info = dataset.get_data_info(index)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        sample = DetDataSample()
        sample.pred_instances = predictions.get(info['img_id'], InstanceData())
        visualizer.add_datasample(
            osp.basename(info['img_path']), image, sample, draw_gt=False,
            pred_score_thr=score_thr,
            out_file=osp.join(show_dir, osp.basename(info['img_path'])))


def main() -> None:
    args = parse_args()
    check_cuda_ops(args.device)  # mmcv without CUDA ops fails at the first NMS
    flush_denormals_on_cpu()
    init_process_group(args.launcher)
    config, checkpoints, run_dir = split_paths(args.paths)
    primaries = dict(**data_primaries(args), **inference_primaries(args))
    if config is None:
        cfg, final = last_finished_stage(DEFAULT_STAGES, args.cfg_options, primaries)
        checkpoints = [final]
        print(f'predicting with {final}: the final checkpoint of {cfg.filename}, '
              'the last training stage to finish', flush=True)
    else:
        cfg = load_config(config, args.cfg_options, dict(primaries, work_dir=run_dir))
        if run_dir:
            print(f'predicting with {checkpoints[0]}: the final checkpoint of '
                  f'{config}, the last run to finish in {args.paths[0]}', flush=True)
    weights = None
    if args.folds:
        if config is None or checkpoints or run_dir:
            raise InputError('--folds takes a CONFIG, whose fold models it uses: '
                             'give no CHECKPOINT')
        checkpoints = fold_checkpoints(config, args.folds, args.cfg_options,
                                       data_primaries(args))
        if args.fold_weights is not None:
            weights = oof_weights(args.fold_weights or osp.join(
                kfold_dir(config), OOF_SCORES), args.folds)
    elif args.fold_weights is not None:
        raise InputError('--fold-weights goes with --folds')
    if not checkpoints:
        # the config's final checkpoint; a config that asks for it (the 2021
        # fine-tune) also the one it started from, as the 2021 reference's predict
        # ensembled its baseline and fine-tuned models
        checkpoints = ([cfg.load_from] if cfg.get('predict_with_load_from')
                       else []) + [finished_checkpoint(cfg)]
    for checkpoint in checkpoints:
        check_checkpoint_file(checkpoint)
    ann_file = cfg.test_evaluator.ann_file
    num_images = check_test_images(cfg.data_root, ann_file)
    batch_size = cfg.test_dataloader.batch_size
    ensemble = args.ensemble or cfg.get('predict_ensemble', 'wbf')
    if args.slice:
        if ensemble == 'nms' and len(checkpoints) > 1:
            raise InputError('--slice goes with --ensemble wbf, not the NMS ensemble')
        enable_sliced_inference(cfg, args.slice, args.overlap, args.tta)
        args.tta = True  # the sliced model takes the TTA model's place
    if weights and ensemble != 'wbf':
        raise InputError('--fold-weights weigh weighted boxes fusion; the NMS '
                         'ensemble has no weights')
    share_test_batches(cfg)
    out_dir = args.out_dir or osp.join(cfg.work_dir, 'submission')

    timers = {}  # what each timed pass ran -> its InferenceTimer
    if ensemble == 'nms' and len(checkpoints) > 1:
        timers['NMS ensemble'] = InferenceTimer()
        fused = predict_nms_ensemble(cfg, checkpoints, args.tta, args.device,
                                     timer=timers['NMS ensemble'])
    else:
        per_model = []
        for i, checkpoint in enumerate(checkpoints):
            timer = timers[osp.basename(checkpoint)] = InferenceTimer()
            per_model.append(predict_with_checkpoint(
                cfg, checkpoint, args.tta, args.device,
                desc=f'model {i + 1}/{len(checkpoints)}', timer=timer))
        fused = fuse_models(per_model, args.wbf_iou, cfg.max_per_img, weights)
    predictions = gather_predictions(fused, batch_size)
    if predictions is None:
        return  # not rank 0: rank 0 writes the files
    for name, timer in timers.items():
        print(f"{name}{' (TTA)' if args.tta else ''}: {timer.line()}")

    metric = METRICS.build(dict(type='ChallengeSubmissionMetric',
                                ann_file=osp.abspath(ann_file),
                                out_dir=out_dir, max_bytes=args.max_bytes,
                                data_format=cfg.data_format))
    metric.dataset_meta = dict(classes=cfg.metainfo['classes'])
    metric.process({}, [dict(img_id=img_id, pred_instances=pred)
                        for img_id, pred in predictions.items()])
    # compute_metrics, not evaluate: the records are gathered already, and
    # evaluate would gather them again from every process.
    scores = metric.compute_metrics(metric.results)
    if scores:  # the annotation file had boxes (e.g. val.json as test.json)
        write_json_atomic(osp.join(out_dir, 'scores.json'), scores, indent=1)
        print(f"mAP {scores['mAP']:.4f}  mAP@.5 {scores['mAP_50']:.4f}  "
              f"mAP@.75 {scores['mAP_75']:.4f} (all in scores.json)")
    print(f'wrote {osp.join(out_dir, "submission.json")}')

    if args.show_dir:
        from mmengine.runner import Runner
        dataset = Runner.build_dataloader(cfg.test_dataloader).dataset
        draw(predictions, dataset, args.show_dir, args.show_num,
             args.show_score_thr)
        print(f'drew {min(args.show_num, num_images)} images in {args.show_dir}')


if __name__ == '__main__':
    run_cli(main)
