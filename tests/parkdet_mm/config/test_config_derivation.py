"""Plain MMEngine configs: every config file read by ``Config.fromfile`` holds the run's
values; the tools and the runner derive them again after every override; MMEngine's
child idioms work; a derived value set against its primary is refused in one line."""
import json
import os
from pathlib import Path

import pytest
from conftest import REPO, run_tool, write_tiny_config
from mmengine.config import Config

from parkdet_challenge.errors import InputError
from parkdet_mm.config import (
                               RECORD_KEY,
                               check_primaries,
                               derived_values,
                               load_config,
                               read_hyp_file,
)

CONFIGS = sorted(p.relative_to(REPO) for p in (REPO / 'configs').rglob('*.py'))
FRAGMENTS = [p for p in CONFIGS if p.parts[1] == '_base_']
TRAINING = [p for p in CONFIGS if p.parts[1] != '_base_']
DEMO = REPO / 'configs/demo/baseline.py'


@pytest.fixture
def in_a_folder_with_coco_classes(tmp_path, monkeypatch):
    """A working folder where the COCO configs' data (their classes) exists."""
    for root in ('data/coco', 'data/demo_coco'):
        (tmp_path / root / 'annotations').mkdir(parents=True)
        (tmp_path / root / 'annotations/classes.json').write_text(
            json.dumps(dict(classes=['car', 'bus', 'person'])))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_training_config_is_plain_and_holds_the_runs_values(
        in_a_folder_with_coco_classes):
    """Config.fromfile, as MMDetection's and MMYOLO's tools read a config, gives
    concrete values, and the same ones load_config gives the tools."""
    for path in TRAINING:
        plain = Config.fromfile(str(REPO / path))
        assert '${' not in plain.pretty_text, path
        loaded = load_config(str(REPO / path))
        assert plain.to_dict() == loaded.to_dict(), path
        if 'coco' in path.parts:
            assert plain.num_classes == 3
            assert plain.model.bbox_head.head_module.num_classes == 3


@pytest.mark.parametrize('path', FRAGMENTS, ids=str)
def test_every_base_fragment_reads_without_formulas(path):
    assert '${' not in Config.fromfile(str(REPO / path)).pretty_text


def test_a_coco_config_reads_before_its_data_exists(tmp_path, monkeypatch):
    """Read where the data is not converted yet: the classes (and what follows them)
    are None; the tools then say how to make them."""
    monkeypatch.chdir(tmp_path)
    plain = Config.fromfile(str(REPO / 'configs/coco/demo.py'))
    assert plain.classes is None and plain.num_classes is None
    with pytest.raises(InputError, match='classes.json does not exist: the config '
                       'takes its classes from the data; run tools/prepare_data.py'):
        load_config(str(REPO / 'configs/coco/demo.py'))


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def child_of_demo(tmp_path: Path, lines: str, name: str = 'child.py') -> str:
    """A child config of the demo baseline in a folder of its own, its _base_
    relative to that folder (MMEngine resolves it from the child's file)."""
    folder = tmp_path / 'my_set'
    folder.mkdir(exist_ok=True)
    relative = os.path.relpath(DEMO, folder)
    return write(folder / name, f'_base_ = {relative!r}\n{lines}')


def test_a_child_moves_everything_that_follows_its_primaries(tmp_path):
    cfg = load_config(child_of_demo(tmp_path, 'img_scale = (320, 320)\n'
                                    'image_weights = False\n'))
    mosaic, affine = cfg.train_pipeline[2:4]
    assert mosaic.img_scale == (320, 320) and affine.border == (-160, -160)
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.test_img_scale == (320, 320)  # the demo's test size follows
    assert cfg.test_dataloader.dataset.batch_shapes_cfg.img_size == 320
    assert cfg.default_hooks.auto_anchor.img_size == 320
    assert cfg.model.bbox_head.train_img_size == 320
    # the demo's anchors follow its size (P6 anchors scaled from 1280)
    assert cfg.model.bbox_head.prior_generator.base_sizes[0][0] == (
        round(19 * 320 / 1280), round(27 * 320 / 1280))
    assert cfg.work_dir == 'work_dirs/child'
    assert [h['type'] for h in cfg.custom_hooks] == ['OptimizerStepEMAHook']


def test_values_the_new_primaries_no_longer_derive_go(tmp_path):
    """single_cls picks another data set type, which takes none of the
    pseudo-label data set's arguments: they leave with the type."""
    dataset = load_config(str(DEMO)).train_dataloader.dataset
    assert dataset.type == 'YOLOv5PseudoLabelCocoDataset'
    assert 'pseudo_label_file' in dataset and 'test_ann_file' in dataset
    one = load_config(str(DEMO), {'single_cls': True}).train_dataloader.dataset
    assert one.type == 'SingleClassCocoDataset'
    assert not {'pseudo_label_file', 'test_ann_file', 'val_ann_file'} & one.keys()
    assert one.ann_file == dataset.ann_file


def test_a_defaulted_primary_set_in_a_child_is_kept(tmp_path):
    cfg = load_config(child_of_demo(tmp_path, 'img_scale = (320, 320)\n'
                                    'test_img_scale = (256, 256)\n'))
    assert cfg.test_img_scale == (256, 256)
    assert cfg.test_dataloader.dataset.batch_shapes_cfg.img_size == 256
    assert cfg.val_dataloader.dataset.batch_shapes_cfg.img_size == 320


@pytest.mark.parametrize('hooks', [
    "custom_hooks = _base_.custom_hooks + [dict(type='CheckInvalidLossHook')]\n",
    "custom_hooks = [*_base_.custom_hooks, dict(type='CheckInvalidLossHook')]\n",
])
def test_mmengine_child_idioms_keep_the_recipes_hooks(tmp_path, hooks):
    cfg = load_config(child_of_demo(tmp_path, hooks + 'patience = 5\n'))
    assert [h['type'] for h in cfg.custom_hooks] == [
        'OptimizerStepEMAHook', 'ClassBalanceHook', 'CheckInvalidLossHook',
        'YOLOv5EarlyStoppingHook']
    assert cfg.train_cfg.val_interval == 1


def test_base_variables_and_delete_work_in_a_child(tmp_path):
    cfg = load_config(child_of_demo(
        tmp_path,
        'max_epochs = _base_.max_epochs // 2\n'
        'tta_scale_factors = {{_base_.tta_scale_factors}}\n'
        "optim_wrapper = dict(_delete_=True, type='NominalBatchOptimWrapper',\n"
        "    constructor='YOLOv5OptimizerConstructor',\n"
        "    optimizer=dict(type='SGD', nesterov=False))\n"))
    assert cfg.max_epochs == 50 and cfg.train_cfg.max_epochs == 50
    assert cfg.tta_model.scale_factors == (1.0, 0.83, 0.67)
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', nesterov=False, lr=0.01,
                                               momentum=0.937, weight_decay=0.0005)


@pytest.mark.parametrize('lines, options, message', [
    ('train_dataloader = dict(batch_size=4)\n', None,
     'train_dataloader.batch_size = 4 is derived from train_batch_size_per_gpu (8): '
     'set train_batch_size_per_gpu instead'),
    ('', {'model.backbone.deepen_factor': 0.5},
     'model.backbone.deepen_factor = 0.5 is derived from deepen_factor (0.33)'),
    ('', {'randomness.deterministic': True},
     'randomness.deterministic = True is derived from deterministic (False)'),
    ('num_classes = 3\n', None, 'num_classes = 3 is derived from classes'),
    ("custom_hooks = _base_.custom_hooks + [dict(type='FreezeLayersHook', "
     'layers=[1])]\n', None,
     "which the primary frozen_layers (None) switches: set frozen_layers instead"),
])
def test_a_derived_value_set_against_its_primary_is_refused(tmp_path, lines, options,
                                                            message):
    with pytest.raises(InputError) as err:
        load_config(child_of_demo(tmp_path, lines), options)
    assert message in str(err.value)
    assert '\n' not in str(err.value)


def test_a_pipeline_of_ones_own_is_kept_with_a_warning(tmp_path):
    child = child_of_demo(tmp_path, (
        "train_pipeline = [dict(t, type='Mosaic') if t['type'] == 'WeightedMosaic'\n"
        "                  else t for t in _base_.train_pipeline]\n"))
    with pytest.warns(UserWarning, match='train_pipeline is set in the config as '
                      'it stands, so it does not follow .*img_scale'):
        cfg = load_config(child)
    assert cfg.train_pipeline[2].type == 'Mosaic'
    assert cfg.train_dataloader.dataset.pipeline[2].type == 'Mosaic'


def test_a_component_of_another_type_is_the_configs_own(tmp_path):
    """MMYOLO's own schedule hook in the recipe's place takes only the arguments
    the child gave it (ours would reach its scheduler function and fail); the
    recipe's own hook type still follows the primaries."""
    child = child_of_demo(tmp_path, (
        'max_epochs = 40\n'
        "default_hooks = dict(param_scheduler=dict(_delete_=True,\n"
        "    type='mmyolo.YOLOv5ParamSchedulerHook', scheduler_type='linear',\n"
        '    lr_factor=0.01, max_epochs=40, warmup_mim_iter=100))\n'))
    with pytest.warns(UserWarning, match='default_hooks.param_scheduler is a '
                      "YOLOv5ParamSchedulerHook of the config's own"):
        cfg = load_config(child)
    assert cfg.default_hooks.param_scheduler == dict(
        type='mmyolo.YOLOv5ParamSchedulerHook', scheduler_type='linear',
        lr_factor=0.01, max_epochs=40, warmup_mim_iter=100)
    assert cfg.default_hooks.checkpoint.interval == 5  # the others still follow
    from mmengine.registry import HOOKS
    assert type(HOOKS.build(cfg.default_hooks.param_scheduler)).__name__ == \
        'YOLOv5ParamSchedulerHook'
    ours = load_config(child_of_demo(tmp_path, 'max_epochs = 40\n', 'ours.py'))
    assert ours.default_hooks.param_scheduler.max_epochs == 40
    assert ours.default_hooks.param_scheduler.warmup_min_iters == 100


def test_the_dumped_config_loads_to_the_same_values_and_follows_edits(tmp_path):
    cfg = load_config(child_of_demo(tmp_path, 'img_scale = (320, 320)\n'))
    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    assert '${' not in dumped.read_text() and 'derived(' not in dumped.read_text()
    again = load_config(str(dumped))
    assert again.to_dict() == cfg.to_dict()
    edited = load_config(str(dumped), {'img_scale': (128, 128)})
    assert edited.train_pipeline[2].img_scale == (128, 128)
    assert edited.test_img_scale == (128, 128)
    assert edited.work_dir == cfg.work_dir  # the dump's work dir stays


def test_the_derivation_reads_only_the_primaries(tmp_path):
    """derived_values is a function of the primaries: the record of a loaded
    config gives back its derived values."""
    cfg = load_config(str(DEMO))
    record = cfg[RECORD_KEY]
    assert record['img_scale'] == (256, 256) and record['anchors'] is None
    from mmengine.config import ConfigDict

    from parkdet_mm.config.derivation import resolve_defaults
    values = derived_values(resolve_defaults(ConfigDict(record),
                                             record['config_file']))
    assert values['train_pipeline'] == cfg.train_pipeline
    assert values['model']['bbox_head']['prior_generator']['base_sizes'] == \
        cfg.model.bbox_head.prior_generator.base_sizes


def test_a_config_that_is_not_the_recipes_passes_through(tmp_path):
    config = write(tmp_path / 'c.py', "model = dict(type='X')\nbase_lr = 0.01\n")
    assert load_config(config, {'model.depth': 3}).model == dict(type='X', depth=3)


def test_an_override_of_an_unknown_key_is_refused(tmp_path):
    config = write(tmp_path / 'c.py', 'base_lr = 0.01\n')
    with pytest.raises(InputError, match='base_lrr: the config has no such key '
                       r'\(did you mean base_lr\?\)'):
        load_config(config, {'base_lrr': 0.02})
    # runner settings a config may gain on the command line stay allowed
    assert load_config(config, {'randomness.deterministic': True}).randomness == \
        dict(deterministic=True)


@pytest.mark.parametrize('key, value, message', [
    ('img_scale', (320, 300), 'img_scale = (320, 300): must be (width, height), '
     'two whole multiples of 64'),
    ('img_scale', (320, ), 'img_scale'),
    ('max_epochs', 0, 'max_epochs = 0: must be a whole number > 0'),
    ('train_batch_size_per_gpu', -2, 'train_batch_size_per_gpu = -2'),
    ('base_lr', 'abc', "base_lr = 'abc': must be a number > 0"),
    ('epoch_parts', 2.5, 'epoch_parts = 2.5'),
    ('max_epochs', True, 'max_epochs = True'),
    ('classes', ('a', 'a'), 'distinct class names'),
    ('scheduler_type', 'step', 'one of linear, cosine'),
])
def test_a_bad_primary_is_named(key, value, message):
    cfg = Config(dict(strides=[8, 16, 32, 64], img_scale=(256, 256), max_epochs=3,
                      base_lr=0.01, classes=('a', 'b')))
    check_primaries(cfg)
    cfg[key] = value
    with pytest.raises(InputError) as err:
        check_primaries(cfg)
    assert message in str(err.value)


def test_a_bad_primary_in_a_child_is_named_before_any_derivation_fails(tmp_path):
    with pytest.raises(InputError, match="max_epochs = 'ten': must be a whole number"):
        load_config(child_of_demo(tmp_path, "max_epochs = 'ten'\n"))


def test_hyp_files_map_to_primaries_and_refuse_what_they_cannot_honour(tmp_path):
    hyp = write(tmp_path / 'hyp.yaml',
                'lr0: 0.02\nscale: 0.2\niou_t: 0.2\nfl_gamma: 0.0\nmixup: 0.1\n'
                'flipud: 0.01\nanchors: 3.412\ncopy_paste: 0.1\n')
    primaries, notes = read_hyp_file(hyp)
    # anchors per level rounded as YOLOv5's Model rounds them
    assert primaries == dict(base_lr=0.02, affine_scale=0.2, mixup_prob=0.1,
                             flip_ud_prob=0.01, anchors_per_level=3)
    assert [n.split(':')[0] for n in notes] == ['iou_t 0.2', 'fl_gamma 0.0',
                                                'warning']
    assert 'copy_paste 0.1 needs segment labels' in notes[2]
    assert read_hyp_file(write(tmp_path / 'a0.yaml', 'anchors: 0\n'))[0] == dict(
        anchors_per_level=None)  # YOLOv5: 0 keeps the model's anchors
    for text, message in [
            ('lr00: 0.01\n', 'lr00 is not a YOLOv5 hyperparameter'),
            ('fl_gamma: 1.5\n', 'fl_gamma 1.5 is not supported'),
            ('perspective: 0.001\n', 'perspective 0.001 is not supported'),
            ('anchors: 0.3\n', 'anchors 0.3 is 0 anchors per level'),
            ('lr0: fast\n', "lr0: 'fast' is not a number"),
            ('- lr0\n', 'is not a mapping'),
    ]:
        with pytest.raises(InputError, match=message):
            read_hyp_file(write(tmp_path / 'bad.yaml', text))
    with pytest.raises(InputError, match='does not exist'):
        read_hyp_file(str(tmp_path / 'none.yaml'))


def derived_table() -> list:
    """The rows of docs/training.md's table of what follows what."""
    text = (REPO / 'docs/training.md').read_text()
    table = text[text.index('| derived value | follows |'):].split('\n\n')[0]
    rows = []
    for line in table.splitlines()[2:]:
        values, follows = line.strip('|').split('|')
        rows += [(value.strip(' `'), {f.strip(' `') for f in follows.split(',')})
                 for value in values.split(',')]
    return rows


def test_the_docs_table_says_what_each_derived_value_follows():
    from parkdet_mm.config.deriving import _Derivation
    cfg = Config.fromfile(str(DEMO))
    derivation = _Derivation(cfg, str(DEMO), True, set())
    rows = derived_table()
    assert len(rows) >= 25
    for path, follows in rows:
        assert set(derivation.followed(tuple(path.split('.')))) == follows, path


def test_training_from_the_dumped_config_gives_the_same_run(tmp_path, tiny_coco):
    """The config a run dumps into its work dir is final: training from it gives
    the same weights, bit for bit."""
    import torch
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    first, second = tmp_path / 'first', tmp_path / 'second'
    run_tool(['tools/train.py', str(config), '--work-dir', str(first)])
    dumped = first / 'tiny.py'
    assert 'derived(' not in dumped.read_text() and '${' not in dumped.read_text()
    run_tool(['tools/train.py', str(dumped), '--work-dir', str(second)])
    weights = [torch.load(str(work / 'epoch_1.pth'), map_location='cpu',
                          weights_only=False)['state_dict'] for work in (first, second)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
