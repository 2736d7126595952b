from .batch_skipping import batches_from
from .deriving_runner import DerivingRunner
from .interruptible_loop import GENERATORS_KEY, INTERRUPT_KEY, InterruptibleEpochBasedTrainLoop

__all__ = [
    'DerivingRunner', 'GENERATORS_KEY', 'INTERRUPT_KEY', 'InterruptibleEpochBasedTrainLoop',
    'batches_from'
]
