"""``${...}`` formulas: evaluated on the final config, after inheritance and overrides."""
import pytest
from mmengine.config import Config

from parkdet_challenge.cli import InputError
from parkdet_mm.config import check_primaries, find_formulas, load_config, read_hyp_file, resolve


def write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_a_whole_formula_takes_the_value_and_its_type():
    cfg = resolve(Config(dict(
        size=(320, 256),
        border='${(-size[0] // 2, -size[1] // 2)}',
        half='${size[0] / 2}',
        loader=dict(batch='${batch}', shuffle='${batch > 1}'),
        batch=4)))
    assert cfg.border == (-160, -128)
    assert cfg.half == 160.0
    assert cfg.loader == dict(batch=4, shuffle=True)


def test_formulas_inside_strings_are_interpolated():
    cfg = resolve(Config(dict(root='data/x/', epochs=3,
                              path='${root}annotations/e${epochs}.json')))
    assert cfg.path == 'data/x/annotations/e3.json'


def test_formulas_read_formulas_in_any_order_and_comprehensions_see_the_config():
    cfg = resolve(Config(dict(
        scaled='${[round(w * factor) for w in base]}',
        factor='${size / 1280}',
        size=256,
        base=[19, 44, 38])))
    assert cfg.scaled == [4, 9, 8]
    assert cfg.factor == 0.2


def test_dicts_in_formulas_read_like_config_attributes():
    cfg = resolve(Config(dict(
        model=dict(head=dict(strides=[8, 16])),
        levels='${len(model.head.strides)}',
        hooks='${[ema] + ([dict(type="B")] if extra else [])}',
        ema=dict(type='EMA', momentum=0.1),
        extra=True)))
    assert cfg.levels == 2
    assert cfg.hooks == [dict(type='EMA', momentum=0.1), dict(type='B')]


def test_resolving_twice_changes_nothing():
    cfg = resolve(Config(dict(a=2, b='${a * 3}', c=dict(d='${[b, a]}'))))
    again = resolve(cfg)
    assert again.to_dict() == cfg.to_dict() == dict(a=2, b=6, c=dict(d=[6, 2]))
    assert list(find_formulas(again.to_dict())) == []


@pytest.mark.parametrize('cfg, message', [
    (dict(a='${b}', b='${c}', c='${a}'), 'cycle: a -> b -> c -> a'),
    (dict(loader=dict(batch='${batchsize}')),
     "loader.batch = ${batchsize}: NameError: name 'batchsize' is not defined"),
    (dict(x='${1 +}'), 'x: formula ${1 +} is not a Python expression'),
    (dict(x='a ${b'), "x: 'a ${b' has an unclosed ${"),
    (dict(x='${[1][3]}'), 'x = ${[1][3]}: IndexError'),
])
def test_a_broken_formula_names_its_key(cfg, message):
    with pytest.raises(InputError) as err:
        resolve(Config(cfg))
    assert message in str(err.value)


def test_a_child_or_an_override_replaces_a_formula(tmp_path):
    base = write(tmp_path / 'base.py',
                 "size = 64\nloader = dict(batch=4, shape='${(size, size)}')\n")
    child = write(tmp_path / 'child.py',
                  "_base_ = './base.py'\nsize = 128\nloader = dict(batch=8)\n")
    cfg = load_config(child)
    assert cfg.loader == dict(batch=8, shape=(128, 128))
    cfg = load_config(child, {'loader.shape': (1, 2), 'size': 32})
    assert cfg.loader == dict(batch=8, shape=(1, 2))
    cfg = load_config(base, None, dict(size=16, ignored=None))
    assert cfg.loader.shape == (16, 16) and 'ignored' not in cfg


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


def test_hyp_files_map_to_primaries_and_refuse_what_they_cannot_honour(tmp_path):
    hyp = write(tmp_path / 'hyp.yaml',
                'lr0: 0.02\nscale: 0.2\niou_t: 0.2\nfl_gamma: 0.0\nmixup: 0.0\n')
    primaries, notes = read_hyp_file(hyp)
    assert primaries == dict(base_lr=0.02, affine_scale=0.2)
    assert [n.split(':')[0] for n in notes] == ['iou_t 0.2', 'fl_gamma 0.0',
                                                'mixup 0.0']
    for text, message in [
            ('lr00: 0.01\n', 'lr00 is not a YOLOv5 hyperparameter'),
            ('fl_gamma: 1.5\n', 'fl_gamma 1.5 is not supported'),
            ('lr0: fast\n', "lr0: 'fast' is not a number"),
            ('- lr0\n', 'is not a mapping'),
    ]:
        with pytest.raises(InputError, match=message):
            read_hyp_file(write(tmp_path / 'bad.yaml', text))
    with pytest.raises(InputError, match='does not exist'):
        read_hyp_file(str(tmp_path / 'none.yaml'))
