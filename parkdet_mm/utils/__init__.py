from .checkpoint import (UnsafeCheckpointError, allow_mmengine_checkpoints,
                         load_local_checkpoint)

__all__ = [
    'UnsafeCheckpointError', 'allow_mmengine_checkpoints',
    'load_local_checkpoint'
]
