"""Shared fixtures: a tiny COCO data set the tests draw themselves, and tool runners;
the ``tools`` mark on every test that starts a tool or a training."""
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
# fixtures that live in tests/helpers/ (a stand-in Slurm)
pytest_plugins = ['helpers.slurm']

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two pytest processes on two cores: with torch's default of a
    # thread per core in each (and in every tool they start), the threads contend and
    # everything runs several times slower. One thread per process, inherited by the
    # tools the tests start.
    import torch
    os.environ['OMP_NUM_THREADS'] = '1'
    torch.set_num_threads(1)

# What starts a tool, a training, a test run or more processes (the ``tools`` mark;
# make test-quick runs the rest).
_SLOW_CALLS = ('run_tool(', 'subprocess', 'Popen', '.train()', 'Runner.from_cfg',
               'predict_loader(', 'mp.spawn', 'multiprocessing',
               'start_processes')
_TESTS = Path(__file__).resolve().parent


def _sources(function) -> List[str]:
    """The source of ``function`` and of the helpers it names: functions of its
    module and the tests' own helper modules."""
    sources = []
    try:
        sources.append(inspect.getsource(function))
    except (OSError, TypeError):
        return sources
    for name in getattr(function, '__code__', None) and function.__code__.co_names or ():
        helper = function.__globals__.get(name)
        if inspect.isfunction(helper) or (
                inspect.ismodule(helper)
                and _TESTS in Path(getattr(helper, '__file__', '/')).parents):
            try:
                sources.append(inspect.getsource(helper))
            except (OSError, TypeError):
                continue
    return sources


def pytest_collection_modifyitems(config, items) -> None:
    """Mark ``tools`` each test whose code, a helper it calls or a fixture's it
    uses starts one."""
    for item in items:
        functions = [item.function] + [
            defs[-1].func
            for defs in item._fixtureinfo.name2fixturedefs.values()]
        if any(call in source for function in functions
               for source in _sources(function) for call in _SLOW_CALLS):
            item.add_marker('tools')


CLASSES = ('sedan', 'SUV', 'van', 'bus', 'school bus', 'truck', 'taxi',
           'adult', 'child', 'motorcycle', 'kickboard', 'bicycle', 'stroller',
           'cart')


def draw_tiny_coco(root: Path, split: str, num_images: int, first_id: int,
                   seed: int, size=(96, 64)) -> Path:
    """Write ``num_images`` small images of coloured boxes and their COCO file."""
    rng = np.random.default_rng(seed)
    colours = np.random.default_rng(0).integers(40, 255, (len(CLASSES), 3))
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    width, height = size
    for i in range(num_images):
        image = Image.new('RGB', size, (110, 110, 110))
        draw = ImageDraw.Draw(image)
        image_id = first_id + i
        for _ in range(int(rng.integers(1, 4))):
            label = int(rng.integers(0, len(CLASSES)))
            w, h = (int(v) for v in rng.integers(12, 32, 2))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            draw.rectangle([x, y, x + w - 1, y + h - 1],
                           fill=tuple(int(c) for c in colours[label]))
            annotations.append(
                dict(id=len(annotations) + 1 + first_id * 100, image_id=image_id,
                     category_id=label + 1, bbox=[x, y, w, h], area=w * h,
                     iscrowd=0))
        file_name = f'images/{split}_{i:03d}.png'
        image.save(root / file_name)
        images.append(dict(id=image_id, file_name=file_name, width=width,
                           height=height))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    ann_file = root / 'annotations' / f'{split}.json'
    ann_file.write_text(
        json.dumps(dict(images=images, annotations=annotations,
                        categories=categories)))
    return ann_file


def draw_tiny_splits(root: Path, train: int = 8, val: int = 4, test: int = 4) -> Path:
    """``root`` with annotations/{train,val,test}.json over 96x64 images."""
    draw_tiny_coco(root, 'train', train, 1, seed=1)
    draw_tiny_coco(root, 'val', val, 101, seed=2)
    draw_tiny_coco(root, 'test', test, 201, seed=3)
    return root


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> Path:
    """A data root with annotations/{train,val,test}.json over 96x64 images."""
    return draw_tiny_splits(tmp_path_factory.mktemp('tiny_coco'))


TINY_CONFIG = '''
_base_ = {base!r}
data_root = {root!r}
img_scale = (64, 64)
max_epochs = {epochs}
train_batch_size_per_gpu = 4
train_num_workers = 0
epoch_parts = 1
val_batch_size_per_gpu = 4
val_num_workers = 0
test_batch_size_per_gpu = 4
test_num_workers = 0
log_interval = 1
checkpoint_interval = 1
val_dataloader = dict(dataset=dict(batch_shapes_cfg=None))
test_dataloader = dict(dataset=dict(batch_shapes_cfg=None))
'''


def write_tiny_config(path: Path, data_root: Path, epochs: int = 2,
                      base: str = 'configs/demo/baseline.py') -> Path:
    """A config inheriting ``base`` shrunk to 64 px, 4-image batches, no workers,
    validated after the last epoch, every epoch's checkpoint kept."""
    path.write_text(
        TINY_CONFIG.format(base=str(REPO / base), root=f'{data_root}/',
                           epochs=epochs))
    return path


def write_wide_checkpoint(config: Path, path: Path, seed: int) -> Path:
    """A checkpoint of ``config``'s untrained model (drawn with torch seed
    ``seed``) whose prediction convolutions are drawn wide, so that scores spread
    over (0, 1): boxes pass the thresholds and no two are near-ties (which could
    order differently)."""
    import torch
    from mmengine.registry import init_default_scope

    import parkdet_mm  # noqa: F401
    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    init_default_scope('mmyolo')
    torch.manual_seed(seed)
    model = MODELS.build(load_config(str(config)).model)
    for conv in model.bbox_head.head_module.convs_pred:
        torch.nn.init.normal_(conv.weight, std=0.5)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='session')
def tiny_model(tiny_coco, tmp_path_factory):
    """A tiny config and a checkpoint of its untrained model, prediction
    convolutions drawn wide (:func:`write_wide_checkpoint`, seed 0)."""
    folder = tmp_path_factory.mktemp('tiny_model')
    config = write_tiny_config(folder / 'tiny.py', tiny_coco)
    return config, write_wide_checkpoint(config, folder / 'tiny.pth', seed=0)


@pytest.fixture(scope='session')
def two_models(tiny_model, tmp_path_factory):
    """The tiny config, its checkpoint and a second one of other random weights
    (seed 1), drawn alike: two different models to fuse (checkpoint paths as
    strings)."""
    config, first = tiny_model
    second = write_wide_checkpoint(
        config, tmp_path_factory.mktemp('second') / 'b.pth', seed=1)
    return config, str(first), str(second)


def model_detections(cfg, checkpoint, tta: bool = False) -> dict:
    """image id -> ``checkpoint``'s own detections on ``cfg``'s test set (with
    ``tta``: in the config's TTA model), run here in one thread as the tools run,
    so that they are the tools' bit for bit."""
    import torch
    from mmengine.runner import Runner

    from parkdet_mm.apis import load_detector
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = load_detector(cfg, str(checkpoint), tta, 'cpu')
        found = {}
        with torch.no_grad():
            for batch in Runner.build_dataloader(cfg.test_dataloader):
                for sample in model.test_step(batch):
                    found[sample.img_id] = sample.pred_instances
    finally:
        torch.set_num_threads(threads)
    return found


def assert_records_are_detections(records: list, detections: dict,
                                  category_ids: Optional[List[int]] = None) -> None:
    """A written prediction file's ``records`` are ``detections`` (image id ->
    instances), image by image: every image of the set and no other, each
    detection one record with its category id (``category_ids[label]``, default
    label + 1), its box as x, y, w, h rounded to 0.1 px and its score rounded to 4
    decimals."""
    category_ids = category_ids or list(range(1, len(CLASSES) + 1))
    assert records, 'no record at all'
    got, want = {}, {}
    for record in records:
        got.setdefault(record['image_id'], []).append(
            (record['category_id'], *record['bbox'], record['score']))
    for image_id, preds in detections.items():
        want[image_id] = [
            (category_ids[label], round(x1, 1), round(y1, 1), round(x2 - x1, 1),
             round(y2 - y1, 1), round(score, 4))
            for (x1, y1, x2, y2), score, label in zip(
                preds.bboxes.tolist(), preds.scores.tolist(), preds.labels.tolist())]
    assert sorted(got) == sorted(want)
    for image_id in want:
        assert want[image_id], f'image {image_id}: no detection to compare'
        assert sorted(got[image_id]) == sorted(want[image_id]), image_id


@pytest.fixture
def unformatted_config_dumps(monkeypatch) -> None:
    """MMEngine's config text (dumped into a work dir, written into checkpoints)
    not run through yapf: its formatting takes most of building a tiny runner."""
    import mmengine.config.config as mmengine_config
    monkeypatch.setattr(mmengine_config, 'FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.fixture
def saved_figures(monkeypatch) -> list:
    """Every matplotlib figure saved while the test runs (pyplot's or the object
    API's), in order, as it was when saved: what a picture test checks was drawn."""
    from matplotlib.figure import Figure
    saved = []
    savefig = Figure.savefig

    def recording_savefig(figure, *args, **kwargs):
        saved.append(figure)
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, 'savefig', recording_savefig)
    return saved


def png_pixels(path) -> np.ndarray:
    """The RGB pixels (height, width, 3; uint8) of the PNG at ``path``, read back."""
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def pixel_of(axes, x: float, y: float, height: int) -> tuple:
    """The (row, column) of the saved PNG (``height`` pixels high, saved at the
    figure's dpi) where ``axes`` drew the data point (x, y)."""
    column, row = axes.transData.transform((x, y))
    return int(height - row), int(column)


def run_tool(args: List[str], cwd: Path = REPO,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with this interpreter; on failure show its output."""
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}:\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """The tool failed on bad input as promised: status 2, one ``error:`` line
    naming each of ``needles``, no traceback."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
