from .nominal_batch_optim_wrapper import (
                                          CpuBFloat16OptimWrapper,
                                          NominalBatchAmpOptimWrapper,
                                          NominalBatchCpuBFloat16OptimWrapper,
                                          NominalBatchMixin,
                                          NominalBatchOptimWrapper,
                                          cpu_has_bfloat16,
                                          use_amp,
)

__all__ = [
    'NominalBatchMixin', 'NominalBatchOptimWrapper', 'NominalBatchAmpOptimWrapper',
    'CpuBFloat16OptimWrapper', 'NominalBatchCpuBFloat16OptimWrapper',
    'cpu_has_bfloat16', 'use_amp'
]
