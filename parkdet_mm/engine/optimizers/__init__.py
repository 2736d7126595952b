from .nominal_batch_optim_wrapper import (
                                          NominalBatchAmpOptimWrapper,
                                          NominalBatchMixin,
                                          NominalBatchOptimWrapper,
                                          amp_variant,
)

__all__ = [
    'NominalBatchMixin', 'NominalBatchOptimWrapper',
    'NominalBatchAmpOptimWrapper', 'amp_variant'
]
