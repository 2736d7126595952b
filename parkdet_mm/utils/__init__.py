from .anchors import apply_checkpoint_anchors
from .checkpoint import (
                         ATOMIC_BACKEND_ARGS,
                         AtomicLocalBackend,
                         CheckpointFileError,
                         UnsafeCheckpointError,
                         allow_mmengine_checkpoints,
                         check_checkpoint_file,
                         load_local_checkpoint,
                         save_checkpoint_atomic,
)
from .preflight import check_config_inputs, check_cuda_ops, mmcv_cuda_ops_problem, required_files
from .setup_run import (
                         add_data_args,
                         add_inference_args,
                         add_runner_args,
                         build_runner,
                         config_from_args,
                         data_primaries,
                         flush_denormals_on_cpu,
                         inference_primaries,
                         init_process_group,
                         parse_runner_args,
                         set_launcher,
)

__all__ = [
    'apply_checkpoint_anchors', 'ATOMIC_BACKEND_ARGS', 'AtomicLocalBackend',
    'CheckpointFileError', 'UnsafeCheckpointError', 'allow_mmengine_checkpoints',
    'check_checkpoint_file', 'load_local_checkpoint', 'save_checkpoint_atomic',
    'check_config_inputs', 'check_cuda_ops', 'mmcv_cuda_ops_problem',
    'required_files', 'add_data_args', 'add_inference_args',
    'inference_primaries', 'add_runner_args', 'build_runner',
    'config_from_args', 'data_primaries', 'flush_denormals_on_cpu',
    'init_process_group', 'parse_runner_args', 'set_launcher'
]
