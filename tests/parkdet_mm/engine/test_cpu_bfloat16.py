"""tools/train.py --amp on a CPU: bfloat16 autocast (CpuBFloat16OptimWrapper).

The tiny model trains its first two iterations from the same seed and batches in
float32 and with --amp. Its convolutions then run in bfloat16 (8 bits of
mantissa: each rounds by up to 0.4%), the weights and the optimizer stay float32.
On the first iteration's weights, the loss and its box and class terms agree with
float32's to 1%. The objectness term of this tiny random model (0.3% of its loss)
sits far in the sigmoid's tail, where it goes as exp(logit): the logits, rounded
through every layer, move it by about 12%, so it is held to 20%. Validation runs
in float32 after them.
"""
import pytest
import torch
from helpers.tiny_training import assert_losses_close, train_tiny
from mmengine.config import ConfigDict

from parkdet_challenge.errors import InputError
from parkdet_mm.engine import optimizers
from parkdet_mm.engine.optimizers import cpu_has_bfloat16, use_amp


def cpu_amp(cfg) -> None:
    use_amp(cfg.optim_wrapper, cuda=False)


@pytest.mark.skipif(not cpu_has_bfloat16(), reason='this CPU has no bfloat16')
def test_bfloat16_training_gives_float32s_losses(tmp_path, tiny_coco):
    _, full = train_tiny(tmp_path, tiny_coco)
    conv_outputs = []
    runner, mixed = train_tiny(tmp_path, tiny_coco, 'bf16', edit=cpu_amp)
    assert type(runner.optim_wrapper).__name__ == \
        'NominalBatchCpuBFloat16OptimWrapper'
    # what the convolutions compute in a training step, under the wrapper
    conv = runner.model.backbone.stem.conv
    handle = conv.register_forward_hook(
        lambda module, args, out: conv_outputs.append(out.dtype))
    with runner.optim_wrapper.optim_context(runner.model):
        runner.model.backbone(torch.rand(1, 3, 64, 64))
    handle.remove()
    assert conv_outputs == [torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in runner.model.parameters())
    assert len(mixed.losses) == len(full.losses) == 2
    first, expected = mixed.losses[0], full.losses[0]
    assert_losses_close({k: v for k, v in first.items() if k != 'loss_obj'},
                        {k: v for k, v in expected.items() if k != 'loss_obj'}, 1e-2)
    assert abs(first['loss_obj'] - expected['loss_obj']) <= 0.2 * expected['loss_obj']
    assert first != expected  # it did compute in bfloat16
    assert mixed.metrics.keys() == full.metrics.keys()


def test_amp_keeps_the_nominal_batch_on_each_device(monkeypatch):
    monkeypatch.setattr(optimizers.nominal_batch_optim_wrapper, 'cpu_has_bfloat16',
                        lambda: True)
    for cuda, plain, nominal in (
            (True, 'AmpOptimWrapper', 'NominalBatchAmpOptimWrapper'),
            (False, 'CpuBFloat16OptimWrapper', 'NominalBatchCpuBFloat16OptimWrapper')):
        for before, after in (('OptimWrapper', plain),
                              ('NominalBatchOptimWrapper', nominal)):
            wrapper = ConfigDict(type=before)
            use_amp(wrapper, cuda=cuda)
            assert wrapper.type == after
            assert wrapper.get('loss_scale') == ('dynamic' if cuda else None)


def test_amp_on_a_cpu_without_bfloat16_is_refused(monkeypatch):
    monkeypatch.setattr(optimizers.nominal_batch_optim_wrapper, 'cpu_has_bfloat16',
                        lambda: False)
    with pytest.raises(InputError, match='this CPU has no bfloat16 instructions'):
        use_amp(ConfigDict(type='NominalBatchOptimWrapper'), cuda=False)
    with pytest.raises(InputError, match="no mixed-precision variant of "
                       "optim_wrapper type 'Mine'"):
        use_amp(ConfigDict(type='Mine'), cuda=True)
