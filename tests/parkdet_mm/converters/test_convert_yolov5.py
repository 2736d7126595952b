"""Importing ultralytics YOLOv5 checkpoints (issue 8; v5.0 from issue 11) without YOLOv5.

Checkpoints are written in YOLOv5's pickle layout by tests/yolov5_pickle_layout.py
from an MMYOLO model's weights; after conversion they must load strictly into the
same MMYOLO architecture and give the same outputs.
"""
import copy
from pathlib import Path

import pytest
import torch
from conftest import REPO, assert_one_line_error, run_tool, write_tiny_config
from helpers.yolov5_checkpoints import (
    DEPTH,
    NC,
    WIDTH,
    expected_values,
    mmyolo_detector,
    randomise,
    write_pair,
)
from mmengine.config import Config
from mmengine.runner import CheckpointLoader
from yolov5_pickle_layout import (
    YAML_V6_P5,
    YAML_V6_P6,
    YAML_V50_P6,
    build_yolov5,
    fill_from_mmyolo,
    save_yolov5_checkpoint,
    yolov5_modules,
)

import parkdet_mm  # noqa: F401  (registers modules and the checkpoint loader)
from parkdet_mm.converters.yolov5_checkpoint import (
    YOLOv5CheckpointError,
    config_differences,
    config_values,
    convert_yolov5_checkpoint,
)


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, size: int) -> None:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out_a, out_b = a._forward(x), b._forward(x)
    for level_a, level_b in zip(sum(out_a, []), sum(out_b, [])):
        assert torch.equal(level_a, level_b)


CASES = [
    pytest.param(YAML_V6_P6, 'P6', True, False, id='v6.1-P6-ema'),
    pytest.param(YAML_V6_P5, 'P5', False, True, id='v7.0-P5-stripped'),
    pytest.param(YAML_V50_P6, 'P6', True, False, id='v5.0-P6-ema'),
]


@pytest.mark.parametrize('yaml,arch,ema,v7', CASES)
def test_round_trip(tmp_path, yaml, arch, ema, v7):
    path, ema_source, model_source = write_pair(tmp_path, yaml, arch, ema, v7)
    ckpt = convert_yolov5_checkpoint(str(path))
    meta = ckpt['meta']
    assert meta['weights'] == ('ema' if ema else 'model')
    assert dict(config_values(meta)) == expected_values(yaml, arch)
    assert meta['nc'] == NC and meta['names'] == ['0', '1', '2']
    assert all(v.dtype in (torch.float32, torch.int64) for v in ckpt['state_dict'].values())
    version = meta['yolov5_version']
    assert version.startswith('v5.0' if yaml is YAML_V50_P6 else
                              'v6.2-v7.0' if v7 else 'v6.0-v6.1')

    target = mmyolo_detector(config_values(meta)).eval()
    target.load_state_dict(ckpt['state_dict'], strict=True)
    same_outputs(target, ema_source if ema else model_source, 128)
    if ema:  # --weights model picks the other one
        other = convert_yolov5_checkpoint(str(path), weights='model')
        target.load_state_dict(other['state_dict'], strict=True)
        same_outputs(target, model_source, 128)


def test_project_loader_converts_in_memory(tmp_path):
    """load_from / test.py / predict.py go through mmengine's CheckpointLoader."""
    path, ema_source, _ = write_pair(tmp_path, YAML_V6_P6, 'P6', ema=True)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['anchors'] == expected_values(
        YAML_V6_P6, 'P6')['model.bbox_head.prior_generator.base_sizes']
    torch.testing.assert_close(ckpt['state_dict']['backbone.stem.conv.weight'],
                               ema_source.state_dict()['backbone.stem.conv.weight'])


def test_tool_writes_a_weights_only_checkpoint(tmp_path):
    path, ema_source, _ = write_pair(tmp_path, YAML_V50_P6, 'P6', ema=True)
    config = tmp_path / 'cfg.py'
    config.write_text(
        "_base_ = '%s'\ndeepen_factor = %r\nwiden_factor = %r\n"
        % (REPO / 'configs/baseline.py', DEPTH, WIDTH))
    dst = tmp_path / 'out' / 'converted.pth'
    proc = run_tool(['tools/convert_yolov5.py', str(path), str(dst),
                     '--config', str(config)])
    out = proc.stdout
    assert "model.backbone.type = 'YOLOv5V50CSPDarknet'" in out
    # the differences named plainly: backbone type, 3 vs 14 classes, widen of the head
    assert 'differs' in out and 'model.backbone.type' in out
    assert 'model.bbox_head.head_module.num_classes: config 14, checkpoint 3' in out
    ckpt = torch.load(dst, weights_only=True)
    target = mmyolo_detector(config_values(ckpt['meta'])).eval()
    target.load_state_dict(ckpt['state_dict'], strict=True)
    same_outputs(target, ema_source, 128)
    assert ckpt['meta']['source'] == str(path)


def test_config_differences_empty_when_matching(tmp_path):
    path, _, _ = write_pair(tmp_path, YAML_V6_P5, 'P5', ema=False)
    meta = convert_yolov5_checkpoint(str(path))['meta']
    cfg = Config(dict(model=dict(backbone=dict(), neck=dict(),
                                 bbox_head=dict(head_module=dict(),
                                                prior_generator=dict()))))
    cfg.merge_from_dict(dict(config_values(meta)))
    assert config_differences(meta, cfg) == []
    cfg.merge_from_dict({'model.backbone.widen_factor': 0.5})
    assert config_differences(meta, cfg) == [('model.backbone.widen_factor', 0.5, WIDTH)]


# ------------------------------------------------------------------ refusals
class Payload:
    """A pickled object that would run ``os.system`` when loaded."""

    def __reduce__(self):
        import os
        return (os.system, ('touch /tmp/parkdet-should-not-exist',))


def refuse(tmp_path: Path, src: Path, *needles: str) -> None:
    dst = tmp_path / 'never.pth'
    proc = run_tool(['tools/convert_yolov5.py', str(src), str(dst)], check=False)
    assert_one_line_error(proc, str(src), *needles)
    assert not dst.exists() and not list(tmp_path.glob('.never.pth*'))


def test_refuses_foreign_global_without_running_it(tmp_path):
    path, _, _ = write_pair(tmp_path, YAML_V6_P5, 'P5', ema=False)
    with yolov5_modules():
        ckpt = {'model': None, 'opt': Payload()}
        torch.save(ckpt, tmp_path / 'evil.pt')
    marker = Path('/tmp/parkdet-should-not-exist')
    marker.unlink(missing_ok=True)
    refuse(tmp_path, tmp_path / 'evil.pt', 'posix.system')
    assert not marker.exists()
    with pytest.raises(YOLOv5CheckpointError, match='posix.system'):
        convert_yolov5_checkpoint(str(tmp_path / 'evil.pt'))


def test_refuses_wrong_and_truncated_files(tmp_path):
    path, _, _ = write_pair(tmp_path, YAML_V6_P5, 'P5', ema=False)
    text = tmp_path / 'notes.pt'
    text.write_text('hello')
    with pytest.raises(YOLOv5CheckpointError, match='not a torch checkpoint'):
        convert_yolov5_checkpoint(str(text))
    mmengine_like = tmp_path / 'plain.pt'
    torch.save({'state_dict': {'a': torch.zeros(2)}}, mmengine_like)
    with pytest.raises(YOLOv5CheckpointError, match='not a YOLOv5 checkpoint'):
        convert_yolov5_checkpoint(str(mmengine_like))
    truncated = tmp_path / 'cut.pt'
    truncated.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(YOLOv5CheckpointError, match='truncated'):
        convert_yolov5_checkpoint(str(truncated))


def test_refuses_unmapped_module(tmp_path):
    yaml = copy.deepcopy(YAML_V6_P5)
    yaml['backbone'][9] = [-1, 1, 'SPP', [1024, [5, 9, 13]]]  # SPP where v6 has SPPF
    model = build_yolov5(yaml, NC, DEPTH, WIDTH)
    path = tmp_path / 'odd.pt'
    save_yolov5_checkpoint(path, model, stripped=True)
    with pytest.raises(YOLOv5CheckpointError,
                       match='unmapped module models.common.SPP at layer 9'):
        convert_yolov5_checkpoint(str(path))


def test_refuses_missing_ema_request(tmp_path):
    path, _, _ = write_pair(tmp_path, YAML_V6_P5, 'P5', ema=False)
    with pytest.raises(YOLOv5CheckpointError, match="no 'ema' weights"):
        convert_yolov5_checkpoint(str(path), weights='ema')


def test_tools_test_takes_a_pt(tiny_coco, tmp_path):
    """tools/test.py evaluates a YOLOv5 .pt directly (converted in memory)."""
    values = expected_values(YAML_V6_P6, 'P6')
    values['model.bbox_head.head_module.num_classes'] = 14
    source = mmyolo_detector(values)
    randomise(source, seed=4)
    yolo = build_yolov5(YAML_V6_P6, 14, DEPTH, WIDTH)
    fill_from_mmyolo(yolo, source.state_dict())
    pt = tmp_path / 'tune_last.pt'
    save_yolov5_checkpoint(pt, yolo, stripped=True)
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    proc = run_tool(['tools/test.py', str(config), str(pt),
                     '--work-dir', str(tmp_path / 'test')])
    log = proc.stdout + proc.stderr
    assert f'Load checkpoint from {pt}' in log
    assert 'do not match exactly' not in log  # every key loaded
    assert (tmp_path / 'test' / 'submission' / 'submission.json').is_file()
