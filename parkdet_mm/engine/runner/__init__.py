from .deriving_runner import DerivingRunner
from .interruptible_loop import INTERRUPT_KEY, InterruptibleEpochBasedTrainLoop, batches_from

__all__ = [
    'DerivingRunner', 'INTERRUPT_KEY', 'InterruptibleEpochBasedTrainLoop',
    'batches_from'
]
