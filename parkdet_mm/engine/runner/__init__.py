from .interruptible_loop import (INTERRUPT_KEY, InterruptibleEpochBasedTrainLoop,
                                 batches_from)

__all__ = ['INTERRUPT_KEY', 'InterruptibleEpochBasedTrainLoop', 'batches_from']
