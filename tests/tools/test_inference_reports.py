"""Where inference time goes (the speed line), soft-NMS wherever NMS runs, and
tools/test.py --out for MMDetection's analysis tools, on a tiny model."""
import json
import pickle
import runpy

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, model_detections, png_pixels, run_tool

from parkdet_challenge.classes import CLASSES

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


def linear_soft_nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float,
                    min_score: float = 1e-3):
    """Linear soft-NMS (Bodla et al., 2017) written out: take the best box, decay
    every other box overlapping it at IoU above ``iou_thr`` by (1 - IoU), drop the
    boxes decayed below ``min_score``, repeat. Returns the kept boxes and their
    final scores, in the order they were taken."""
    boxes, scores = boxes.astype(np.float64), scores.astype(np.float64)
    kept_boxes, kept_scores = [], []
    while len(scores):
        best = int(scores.argmax())
        kept_boxes.append(boxes[best])
        kept_scores.append(scores[best])
        box = boxes[best]
        boxes, scores = np.delete(boxes, best, 0), np.delete(scores, best)
        iw = (np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0])).clip(0)
        ih = (np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])).clip(0)
        inter = iw * ih
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / (area + (box[2] - box[0]) * (box[3] - box[1]) - inter)
        scores = np.where(iou > iou_thr, scores * (1 - iou), scores)
        boxes, scores = boxes[scores >= min_score], scores[scores >= min_score]
    return np.array(kept_boxes).reshape(-1, 4), np.array(kept_scores)


def test_soft_nms_decays_scores_as_linear_soft_nms_does(tiny_model):
    from mmengine.registry import init_default_scope

    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    from parkdet_mm.models.tta import DecodedPredictions, nms_predictions
    config, _ = tiny_model
    cfg = load_config(str(config), primaries=dict(nms_type='soft_nms'))
    assert cfg.model.test_cfg.nms.type == 'soft_nms'
    init_default_scope('mmyolo')
    head = MODELS.build(cfg.model).bbox_head
    # clusters of overlapping boxes (an exact duplicate among them) of two
    # classes, and boxes apart; distinct scores
    rng = np.random.default_rng(0)
    centres = np.repeat([[40., 40.], [60., 50.], [150., 150.]], 6, axis=0)
    centres += rng.uniform(-6, 6, centres.shape)
    sizes = rng.uniform(20, 40, centres.shape)
    boxes = np.c_[centres - sizes / 2, centres + sizes / 2]
    boxes[6] = boxes[4]  # (both class 0)
    classes = np.arange(len(boxes)) % 2 * 5  # classes 0 and 5
    objectness = rng.permutation(np.linspace(0.3, 0.95, len(boxes)))
    class_scores = torch.zeros(len(boxes), head.num_classes)
    class_scores[range(len(boxes)), classes] = 1.0
    predictions = DecodedPredictions(
        bboxes=torch.tensor(boxes, dtype=torch.float32)[None],
        scores=class_scores[None],
        objectness=torch.tensor(objectness, dtype=torch.float32)[None])
    meta = dict(scale_factor=(1.0, 1.0), ori_shape=(200, 200))
    (result, ) = nms_predictions(head, predictions, [meta])
    # class-aware: each class on its own
    want = [(label, box, score) for label in (0, 5) for box, score in zip(
        *linear_soft_nms(boxes[classes == label], objectness[classes == label],
                         cfg.nms_iou_thr))]
    want.sort(key=lambda row: -row[2])
    order = result.scores.argsort(descending=True)
    assert result.labels[order].tolist() == [label for label, _, _ in want]
    assert result.scores[order].tolist() == pytest.approx(
        [score for _, _, score in want], rel=1e-5)
    assert result.bboxes[order].numpy() == pytest.approx(
        np.array([box for _, box, _ in want]), abs=1e-4)
    # decayed rather than removed, but for the duplicate (IoU 1: score 0)
    assert len(result) == len(boxes) - 1
    hard_cfg = dict(head.test_cfg, nms=dict(type='nms',
                                            iou_threshold=cfg.nms_iou_thr))
    (hard, ) = nms_predictions(head, predictions, [meta], hard_cfg)
    assert len(hard) < len(result)


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


def test_out_pkl_feeds_mmdetections_confusion_matrix(tiny_model, tmp_path, monkeypatch,
                                                     saved_figures):
    """MMDetection's confusion-matrix tool, run as a user runs it on the config the
    run dumped and the --out pickle, draws the matrix of the model's own
    detections: 14 classes and background, each true class's row in percent."""
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from parkdet_mm.config import load_config
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
    tool = f'{mmdet.__path__[0]}/.mim/tools/analysis_tools/confusion_matrix.py'
    dumped_config = str(tmp_path / 'run' / 'tiny.py')
    monkeypatch.setattr('sys.argv', [tool, dumped_config, str(results),
                                     str(tmp_path / 'cm'), '--score-thr', '0.05'])
    runpy.run_path(tool, run_name='__main__')
    (figure, ) = saved_figures
    # what it should draw: the tool's count over the model's own detections
    tool_functions = runpy.run_path(tool)
    init_default_scope('mmyolo')
    dataset = DATASETS.build(Config.fromfile(dumped_config).test_dataloader.dataset)
    own = model_detections(load_config(str(config), {
        'test_ann_file': 'annotations/val.json'}), checkpoint)
    expected = [dict(pred_instances=own[dataset.get_data_info(i)['img_id']].to_dict())
                for i in range(len(dataset))]
    counts = tool_functions['calculate_confusion_matrix'](dataset, expected, 0.05)
    assert counts[:14].sum() > 0 and counts[14].sum() > 0  # hits or misses, and FPs
    with np.errstate(invalid='ignore'):
        percent = counts / counts.sum(1, keepdims=True) * 100
    ax = figure.axes[0]
    drawn = np.ma.filled(ax.get_images()[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(drawn, percent, rtol=1e-5, equal_nan=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == [*CLASSES, 'background']
    # read back: 0.5 inch per label at the tool's 180 dpi
    assert png_pixels(tmp_path / 'cm' / 'confusion_matrix.png').shape == (1080, 1350, 3)


def test_out_is_written_whole_or_not_at_all(tmp_path):
    """--out's pickle: a dump that fails half-way (here a result pickle cannot
    write, after more than pickle's 64 KiB frame of good ones has gone to the file)
    leaves the previous file as it was, or no file, and no temporary file."""
    from parkdet_mm.evaluation.metrics import AtomicDumpDetResults
    rng = np.random.default_rng(0)
    results = [dict(img_id=i, pred_instances=dict(
        bboxes=rng.random((5000, 4), np.float32), scores=rng.random(5000, np.float32),
        labels=rng.integers(0, 14, 5000))) for i in range(3)]
    broken = results + [dict(img_id=3, pred_instances=dict(labels=lambda: 0))]
    out = tmp_path / 'results.pkl'
    metric = AtomicDumpDetResults(out_file_path=str(out))
    with pytest.raises((pickle.PicklingError, AttributeError)):
        metric.compute_metrics(broken)
    assert list(tmp_path.iterdir()) == []
    metric.compute_metrics(results)
    written = out.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError)):
        metric.compute_metrics(broken[1:])
    assert list(tmp_path.iterdir()) == [out] and out.read_bytes() == written
    loaded = pickle.loads(written)
    assert [r['img_id'] for r in loaded] == [0, 1, 2]
    assert np.array_equal(loaded[2]['pred_instances']['bboxes'],
                          results[2]['pred_instances']['bboxes'])


def test_out_must_be_a_pickle(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    proc = run_tool(['tools/test.py', str(config), str(checkpoint), '--out',
                     str(tmp_path / 'results.json')], check=False)
    assert_one_line_error(proc, '--out', '.pkl')


def test_benchmark_rates_agree_with_their_ms_and_the_stages_add_up(tiny_model,
                                                                   tiny_coco):
    import re
    config, checkpoint = tiny_model
    out = run_tool(['tools/benchmark.py', str(config), str(checkpoint),
                    '--batch-size', '2', '--repeats', '2', '--iters', '2',
                    '--warmup', '1', '--images', str(tiny_coco / 'images'),
                    '--tta']).stdout
    assert out.startswith('device: CPU')
    number = r'(\d+\.\d)'
    alone = re.search(rf'model alone at \(2, 3, 64, 64\): {number} images/s '
                      rf'\({number} ms per image\)', out)
    path = re.search(rf'predict path with TTA at \(2, 3, 64, 64\): {number} '
                     rf'images/s \({number} ms per image\)', out)
    assert alone and path, out
    for line in (alone, path):
        rate, ms = float(line.group(1)), float(line.group(2))
        # each printed to 0.1: ms per image is 1000 / images per second
        assert abs(ms - 1000 / rate) <= 0.05 + 0.05 * 1000 / (rate - 0.05) ** 2, line[0]
    speed = re.search(rf'one more run: Speed: {number} ms loading and pre-process, '
                      rf'{number} ms inference, {number} ms decoding and NMS per image '
                      rf'at shape \(2, 3, 64, 64\) \((\d+) images, {number} ms per '
                      r'image in all\)', out)
    assert speed, out
    *stages, images, total = speed.groups()
    # one run of --iters 2 batches of --batch-size 2 (TTA's views are one image)
    assert int(images) == 4
    # the stages are timed inside the run's total (each rounded to 0.1 ms)
    assert sum(float(v) for v in stages) <= float(total) + 0.2


def test_benchmark_refuses_amp_without_cuda(tiny_model):
    proc = run_tool(['tools/benchmark.py', str(tiny_model[0]), '--amp',
                     '--device', 'cpu'], check=False)
    assert_one_line_error(proc, '--amp needs a CUDA device')
