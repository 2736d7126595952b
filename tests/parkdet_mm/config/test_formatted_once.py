"""FormattedOnceConfig: MMEngine's config text, formatted once for each content."""
import copy

import mmengine.config.config as mmengine_config
from conftest import REPO

from parkdet_mm.config import FormattedOnceConfig, load_config


def counting_formatter(monkeypatch) -> list:
    calls = []
    format_code = mmengine_config.FormatCode

    def counted(*args, **kwargs):
        calls.append(1)
        return format_code(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counted)
    return calls


def test_the_text_is_configs_and_formatted_once_per_content(monkeypatch):
    plain = load_config(str(REPO / 'configs/demo/baseline.py'))
    cfg = FormattedOnceConfig.of(copy.deepcopy(plain))
    calls = counting_formatter(monkeypatch)
    text = cfg.pretty_text
    assert text == plain.pretty_text
    formatted = len(calls) // 2  # once for ours, once for the plain config's
    assert formatted >= 1
    assert cfg.pretty_text == text and copy.deepcopy(cfg).pretty_text == text
    assert len(calls) == 2 * formatted  # no formatting since

    # a changed value, nested or at the top, is a new text, as Config formats it
    for change in (lambda c: c.train_dataloader.update(batch_size=3),
                   lambda c: setattr(c, 'max_epochs', 7)):
        change(cfg)
        change(plain)
        assert cfg.pretty_text == plain.pretty_text
        assert 'batch_size=3' in cfg.pretty_text


def test_a_runner_formats_its_config_once(monkeypatch, tiny_coco, tmp_path):
    from conftest import write_tiny_config

    from parkdet_mm.engine import DerivingRunner
    cfg = load_config(str(write_tiny_config(tmp_path / 'tiny.py', tiny_coco)))
    cfg.work_dir = str(tmp_path / 'work')
    calls = counting_formatter(monkeypatch)
    copy.deepcopy(cfg).pretty_text
    once = len(calls)
    assert once >= 1
    runner = DerivingRunner.from_cfg(cfg)  # logs its config text
    assert isinstance(runner.cfg, FormattedOnceConfig)
    runner.dump_config()
    for _ in range(3):  # as the visualizer and the checkpoints ask
        assert runner.cfg.pretty_text == (tmp_path / 'work' / 'tiny.py').read_text()
    assert len(calls) == 2 * once
