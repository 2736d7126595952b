"""CPU inference backends: ONNX Runtime and OpenVINO run the exported network with
PyTorch's pre- and post-processing, and find PyTorch's detections."""
import os
import sys

import pytest
import torch
from conftest import assert_one_line_error, run_tool, write_tiny_config
from mmengine.runner import Runner


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    """The tiny config trained two epochs (tools/train.py), its last checkpoint."""
    work = tmp_path_factory.mktemp('backends')
    config = write_tiny_config(work / 'tiny.py', tiny_coco, epochs=2)
    run_tool(['tools/train.py', str(config), '--work-dir', str(work / 'run')])
    return config, str(work / 'run' / 'epoch_2.pth')


def _detections(config, checkpoint, backend):
    from parkdet_mm.apis import YOLOv5Inferencer
    from parkdet_mm.config import load_config
    # low scores of a model trained briefly: keep boxes from 0.001
    cfg = load_config(str(config), primaries=dict(score_thr=0.001))
    inferencer = YOLOv5Inferencer(cfg, checkpoint, tta=True, backend=backend)
    return inferencer.predict_loader(Runner.build_dataloader(cfg.test_dataloader))


def _iou(box, boxes):
    lt = torch.maximum(box[:2], boxes[:, :2])
    rb = torch.minimum(box[2:], boxes[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    union = (box[2:] - box[:2]).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(1) - inter
    return inter / union


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_backend_finds_pytorchs_detections(trained, backend):
    if backend == 'openvino':
        pytest.importorskip('openvino')
    config, checkpoint = trained
    expected = _detections(config, checkpoint, 'pytorch')
    found = _detections(config, checkpoint, backend)
    assert list(found) == list(expected)
    boxes = matched = 0
    for img_id, pred in expected.items():
        theirs = found[img_id]
        for box, score, label in zip(pred.bboxes, pred.scores, pred.labels):
            boxes += 1
            same = (theirs.labels == label) & ((theirs.scores - score).abs() <= 1e-3)
            matched += bool(same.any() and _iou(box, theirs.bboxes[same]).max() >= 0.99)
    assert boxes > 40  # (TTA, 4 test images)
    assert matched >= 0.99 * boxes, f'{matched} of {boxes} boxes matched'


def test_export_is_cached_and_remade_when_the_checkpoint_changes(trained, tmp_path):
    from parkdet_mm.apis import load_detector
    from parkdet_mm.config import load_config
    config, source = trained
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(open(source, 'rb').read())
    cfg = load_config(str(config))
    load_detector(cfg, str(checkpoint), False, 'cpu', backend='onnxruntime')
    export = tmp_path / 'model.network.onnx'
    made = export.stat().st_mtime_ns
    load_detector(cfg, str(checkpoint), True, 'cpu', backend='onnxruntime')
    assert export.stat().st_mtime_ns == made  # cached: TTA runs the same network
    os.utime(checkpoint, ns=(made + 10**9, made + 10**9))
    load_detector(cfg, str(checkpoint), False, 'cpu', backend='onnxruntime')
    assert export.stat().st_mtime_ns != made


def test_backends_are_refused_where_they_cannot_run(tiny_model, tiny_coco, tmp_path,
                                                    monkeypatch):
    from parkdet_challenge.errors import InputError
    from parkdet_mm.deploy import check_backend
    monkeypatch.setitem(sys.modules, 'openvino', None)  # not installed
    with pytest.raises(InputError, match=r'pip install \.\[openvino\]'):
        check_backend('openvino', 'cpu')
    with pytest.raises(InputError, match='runs on the CPU'):
        check_backend('onnxruntime', 'cuda')
    config, checkpoint = tiny_model
    proc = run_tool(['tools/detect.py', str(config), str(checkpoint),
                     str(tiny_coco / 'images' / 'test_000.png'), '--backend',
                     'onnxruntime', '--half', '--out-dir', str(tmp_path / 'out')],
                    check=False)
    assert_one_line_error(proc, '--half')
    assert not (tmp_path / 'out').exists()
