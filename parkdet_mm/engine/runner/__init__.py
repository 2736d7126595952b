from .formula_runner import FormulaRunner
from .interruptible_loop import INTERRUPT_KEY, InterruptibleEpochBasedTrainLoop, batches_from

__all__ = [
    'FormulaRunner', 'INTERRUPT_KEY', 'InterruptibleEpochBasedTrainLoop',
    'batches_from'
]
