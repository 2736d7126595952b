"""OpenMMLab's own tools on the project's configs and work dirs, run as their docs show,
and a child config written MMEngine's way training with the recipe's hooks and its
own."""
import os
from pathlib import Path

import mmdet
import pytest
from conftest import REPO, run_tool, write_tiny_config

import mmyolo

MMDET_TOOLS = Path(mmdet.__file__).parent / '.mim/tools'
MMYOLO_TOOLS = Path(mmyolo.__file__).parent / '.mim/tools'
DEMO = REPO / 'configs/demo/baseline.py'


@pytest.fixture(scope='module')
def demo_folder(tiny_coco, tmp_path_factory) -> Path:
    """A working folder whose data/demo is the tiny data set: the demo config as
    written reads it there."""
    folder = tmp_path_factory.mktemp('demo_folder')
    (folder / 'data').mkdir()
    os.symlink(tiny_coco, folder / 'data/demo')
    return folder


@pytest.fixture(scope='module')
def demo_results(demo_folder, tiny_model) -> Path:
    """tools/test.py's --out results of the demo config on the tiny data."""
    results = demo_folder / 'results.pkl'
    run_tool([str(REPO / 'tools/test.py'), str(DEMO), str(tiny_model[1]), '--out',
              str(results), '--work-dir', str(demo_folder / 'test')], cwd=demo_folder)
    return results


def pngs(folder: Path) -> list:
    return sorted(folder.rglob('*.png')) + sorted(folder.rglob('*.jpg'))


def test_mmdetections_analyze_results(demo_folder, demo_results):
    """Its training-pipeline check (get_loading_pipeline) finds MMCV's loading
    transforms in the demo's training pipeline, and it draws the best and worst
    images of the results."""
    show = demo_folder / 'analyze'
    run_tool([str(MMDET_TOOLS / 'analysis_tools/analyze_results.py'), str(DEMO),
              str(demo_results), str(show), '--topk', '2'], cwd=demo_folder)
    assert len(pngs(show / 'good')) == 2 and len(pngs(show / 'bad')) == 2


def test_mmdetections_confusion_matrix(demo_folder, demo_results):
    out = demo_folder / 'confusion'
    run_tool([str(MMDET_TOOLS / 'analysis_tools/confusion_matrix.py'), str(DEMO),
              str(demo_results), str(out)], cwd=demo_folder)
    assert (out / 'confusion_matrix.png').is_file()


@pytest.mark.parametrize('phase', ['train', 'val'])
def test_mmyolos_browse_dataset(demo_folder, phase):
    out = demo_folder / f'browse_{phase}'
    run_tool([str(MMYOLO_TOOLS / 'analysis_tools/browse_dataset.py'), str(DEMO),
              '--phase', phase, '--not-show', '--show-number', '3', '--out-dir',
              str(out)], cwd=demo_folder)
    assert len(pngs(out)) == 3


def test_mmyolos_dataset_analysis_and_print_config(demo_folder):
    out = demo_folder / 'analysis'
    run_tool([str(MMYOLO_TOOLS / 'analysis_tools/dataset_analysis.py'), str(DEMO),
              '--out-dir', str(out)], cwd=demo_folder)
    assert len(pngs(out)) == 4  # boxes per class, w-h, ratio, area
    printed = run_tool([str(MMYOLO_TOOLS / 'misc/print_config.py'), str(DEMO)],
                       cwd=demo_folder).stdout
    flat = ''.join(printed.split())
    assert '${' not in printed and "type='WeightedMosaic'" in printed
    assert "type='YOLOv5CSPDarknet'" in flat and 'deepen_factor=0.33' in flat


def test_a_child_adding_a_hook_mmengines_way_trains_with_both(tmp_path, tiny_coco):
    """custom_hooks = _base_.custom_hooks + [...]: the recipe's hooks (the EMA, the
    image weights) and the child's own all run."""
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    with config.open('a') as f:
        f.write("custom_hooks = _base_.custom_hooks + "
                "[dict(type='CheckInvalidLossHook', interval=1)]\n")
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    log = proc.stdout + proc.stderr
    order = log[log.index('Hooks will be executed in the following order'):]
    for hook in ('OptimizerStepEMAHook', 'ClassBalanceHook', 'CheckInvalidLossHook'):
        assert hook in order, hook
    assert (work / 'epoch_1.pth').is_file()
