"""tools/train.py --compile: compiled training computes the eager losses.

The tiny model trains its first two iterations twice from the same seed and the
same batches, eagerly and with the network and the loss compiled
(CompileModelHook), and validates (eagerly, by design) after them.

Float tolerance: the first iteration runs on the same weights, and its losses
agree to 1e-4. The compiled kernels sum in another order, so the gradients differ
in their last bits; for this tiny, freshly initialised model the BatchNorm
gradients are ill-conditioned (float32 eager gradients are themselves up to 0.7%
off float64 ones, compiled ones up to 2.5%), and the first warmup step moves the
BatchNorm weights at warmup_bias_lr 0.1: the weights after that step agree to
5e-3, the second iteration's losses to 1%. (From there the warmup amplifies any
difference, the last bits of a thread count's sums included, step after step.)
torch.compile takes minutes on a CPU the first time (its cache on disk makes later
runs fast); the test starts a training, so `make test-quick` leaves it out.
"""
import torch
from helpers.tiny_training import assert_losses_close, train_tiny
from torch._dynamo.utils import counters

from parkdet_mm.engine.hooks.compile_model_hook import TrainingOnlyCompiled


def test_compiled_training_gives_the_eager_losses(tmp_path, tiny_coco):
    _, eager = train_tiny(tmp_path, tiny_coco)
    counters.clear()
    runner, compiled = train_tiny(tmp_path, tiny_coco, 'compiled',
                                  compile_model=True)
    # the training steps ran compiled code: the network and the loss's graphs
    assert counters['stats']['unique_graphs'] >= 3
    model = runner.model
    assert isinstance(model.extract_feat, TrainingOnlyCompiled)
    assert isinstance(model.bbox_head.head_module.forward, TrainingOnlyCompiled)
    assert isinstance(model.bbox_head.loss_by_feat, TrainingOnlyCompiled)
    assert len(eager.losses) == len(compiled.losses) == 2
    for step, tolerance in enumerate((1e-4, 1e-2)):
        assert_losses_close(compiled.losses[step], eager.losses[step], tolerance)
    weights, expected = compiled.first_step_weights, eager.first_step_weights
    assert weights.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=5e-3,
                                   msg=lambda text: f'{name}: {text}')
    # validation ran, eagerly, after the compiled steps
    assert not model.training
    assert compiled.metrics.keys() == eager.metrics.keys()
    assert 'challenge/mAP_50' in compiled.metrics
