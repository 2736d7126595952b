"""Where inference time goes (the speed line), soft-NMS wherever NMS runs, and
tools/test.py --out for MMDetection's analysis tools, on a tiny model."""
import json
import pickle

import pytest
import torch
from conftest import assert_one_line_error, run_tool

TEST_ON_VAL = ['--cfg-options', 'test_ann_file=annotations/val.json']


@pytest.mark.parametrize('tta,models', [(False, 1), (True, 1), (False, 2)])
def test_the_speed_lines_stages_add_up_to_the_total(tiny_model, tta, models):
    from mmengine.runner import Runner

    from parkdet_mm.apis import YOLOv5Inferencer
    from parkdet_mm.config import load_config
    from parkdet_mm.engine.inference_timer import STAGES, InferenceTimer
    config, checkpoint = tiny_model
    cfg = load_config(str(config))
    timer = InferenceTimer()
    inferencer = YOLOv5Inferencer(cfg, [str(checkpoint)] * models, tta, 'cpu')
    predictions = inferencer.predict_loader(
        Runner.build_dataloader(cfg.test_dataloader), timer)
    # the tiny test split; an ensemble's models each preprocess it, counted once
    assert timer.images == len(predictions) == 4
    assert timer.shape == (4, 3, 64, 64)
    assert all(timer.seconds[stage] > 0 for stage in STAGES)
    assert sum(timer.seconds.values()) == pytest.approx(timer.total, rel=0.1)


def test_the_timer_leaves_the_model_as_it_was(tiny_model):
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    from parkdet_mm.engine.inference_timer import InferenceTimer
    init_default_scope('mmyolo')
    model = MODELS.build(load_config(str(tiny_model[0])).model).eval()
    timer = InferenceTimer()
    with torch.no_grad(), timer.timing([model]):
        assert 'forward' in vars(model.bbox_head)
        model(torch.zeros(2, 3, 64, 64))
    assert timer.seconds['inference'] > 0 and timer.images == 0
    for owner in (model, model.bbox_head, model.data_preprocessor):
        assert not {'forward', 'extract_feat', 'predict_by_feat',
                    '_bbox_post_process'} & set(vars(owner))


def test_test_and_predict_end_with_the_speed_line(tiny_model, tiny_coco, tmp_path):
    config, checkpoint = tiny_model
    out = run_tool(['tools/test.py', str(config), str(checkpoint), '--work-dir',
                    str(tmp_path / 'test'), '--tta'])
    lines = [line for line in (out.stdout + out.stderr).splitlines()
             if 'Speed: ' in line]
    assert len(lines) == 1
    for stage in ('ms loading and pre-process', 'ms inference',
                  'ms decoding and NMS', 'per image at shape (4, 3, 64, 64)'):
        assert stage in lines[0]
    out = run_tool(['tools/predict.py', str(config), str(checkpoint),
                    '--data-root', str(tiny_coco), '--ann-dir',
                    str(tiny_coco / 'annotations'), '--out-dir',
                    str(tmp_path / 'predict')])
    assert f'{checkpoint.name} (TTA): Speed: ' in out.stdout


def test_soft_nms_decays_scores_as_mmcv_does(tiny_model):
    from mmcv.ops import soft_nms
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    from parkdet_mm.models.tta import DecodedPredictions, nms_predictions
    config, _ = tiny_model
    cfg = load_config(str(config), primaries=dict(nms_type='soft_nms'))
    assert cfg.model.test_cfg.nms.type == 'soft_nms'
    init_default_scope('mmyolo')
    head = MODELS.build(cfg.model).bbox_head
    # three overlapping boxes of one class and one apart
    boxes = torch.tensor([[10., 10., 50., 50.], [12., 12., 52., 52.],
                          [14., 10., 54., 50.], [100., 100., 130., 120.]])
    class_scores = torch.zeros(4, head.num_classes)
    class_scores[:, 2] = torch.tensor([0.9, 0.8, 0.7, 0.6])
    predictions = DecodedPredictions(bboxes=boxes[None], scores=class_scores[None],
                                     objectness=torch.ones(1, 4))
    meta = dict(scale_factor=(1.0, 1.0), ori_shape=(200, 200))
    (result, ) = nms_predictions(head, predictions, [meta])
    expected, _ = soft_nms(boxes, class_scores[:, 2],
                           iou_threshold=cfg.nms_iou_thr)
    assert sorted(result.scores.tolist(), reverse=True) == pytest.approx(
        expected[:, 4].tolist())
    assert len(result) == 4  # decayed, not removed
    hard_cfg = dict(head.test_cfg, nms=dict(type='nms',
                                            iou_threshold=cfg.nms_iou_thr))
    (hard, ) = nms_predictions(head, predictions, [meta], hard_cfg)
    assert len(hard) < 4


def test_soft_nms_flag_reaches_test_and_keeps_more_boxes(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    counts = {}
    for nms in ('nms', 'soft'):
        run_tool(['tools/test.py', str(config), str(checkpoint), '--work-dir',
                  str(tmp_path / nms), '--out-dir', str(tmp_path / nms / 'out'),
                  '--nms', nms, '--cfg-options', 'max_per_img=10000',
                  'nms_iou_thr=0.2'])
        (dumped, ) = (tmp_path / nms).glob('tiny.py')
        assert f"type='{dict(nms='nms', soft='soft_nms')[nms]}'" in \
            dumped.read_text()
        counts[nms] = len(json.loads(
            (tmp_path / nms / 'out' / 'preds.json').read_text()))
    assert counts['soft'] > counts['nms']


def test_out_pkl_feeds_mmdetections_confusion_matrix(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    results = tmp_path / 'results.pkl'
    run_tool(['tools/test.py', str(config), str(checkpoint), '--work-dir',
              str(tmp_path / 'run'), '--out', str(results), *TEST_ON_VAL])
    with open(results, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 4
    for sample in dumped:
        assert {'img_id', 'pred_instances'} <= set(sample)
        assert {'bboxes', 'scores', 'labels'} <= set(sample['pred_instances'])
    # MMDetection's own analysis tool, on the config the run dumped
    import mmdet
    tool = (f'{mmdet.__path__[0]}/.mim/tools/analysis_tools/'
            'confusion_matrix.py')
    run_tool([tool, str(tmp_path / 'run' / 'tiny.py'), str(results),
              str(tmp_path / 'cm'), '--score-thr', '0.3'])
    assert (tmp_path / 'cm' / 'confusion_matrix.png').stat().st_size > 1000


def test_out_must_be_a_pickle(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    proc = run_tool(['tools/test.py', str(config), str(checkpoint), '--out',
                     str(tmp_path / 'results.json')], check=False)
    assert_one_line_error(proc, '--out', '.pkl')


def test_benchmark_prints_positive_rates(tiny_model, tiny_coco):
    import re
    config, checkpoint = tiny_model
    out = run_tool(['tools/benchmark.py', str(config), str(checkpoint),
                    '--batch-size', '2', '--repeats', '2', '--iters', '1',
                    '--warmup', '1', '--images', str(tiny_coco / 'images'),
                    '--tta']).stdout
    assert out.startswith('device: CPU')
    alone = re.search(r'model alone at \(2, 3, 64, 64\): ([\d.]+) images/s', out)
    path = re.search(r'predict path with TTA at \(2, 3, 64, 64\): ([\d.]+) '
                     r'images/s', out)
    assert alone and path, out
    assert float(alone.group(1)) > 0 and float(path.group(1)) > 0
    assert 'Speed: ' in out and '(2 images,' in out


def test_benchmark_refuses_amp_without_cuda(tiny_model):
    proc = run_tool(['tools/benchmark.py', str(tiny_model[0]), '--amp',
                     '--device', 'cpu'], check=False)
    assert_one_line_error(proc, '--amp needs a CUDA device')
