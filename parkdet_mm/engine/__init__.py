# checkpoint first: it registers the atomic file backend and allow-lists mmengine's
# checkpoint classes for torch.load(weights_only=True)
from . import checkpoint  # noqa: F401,I001
from . import hooks, optimizers, runner  # noqa: F401  (registers modules)
from .runner import DerivingRunner

__all__ = ['DerivingRunner']
