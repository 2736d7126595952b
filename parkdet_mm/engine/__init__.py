from . import hooks, optimizers, runner  # noqa: F401  (registers modules)
from .runner import FormulaRunner

__all__ = ['FormulaRunner']
