from .checkpoint import (UnsafeCheckpointError, allow_mmengine_checkpoints,
                         load_local_checkpoint)
from .preflight import check_config_inputs, required_files

__all__ = [
    'UnsafeCheckpointError', 'allow_mmengine_checkpoints',
    'load_local_checkpoint', 'check_config_inputs', 'required_files'
]
from .setup_run import (default_work_dir, flush_denormals_on_cpu, load_config,
                        set_launcher, set_work_dir)

__all__ += [
    'default_work_dir', 'flush_denormals_on_cpu', 'load_config', 'set_launcher',
    'set_work_dir'
]
from .tta import yolov5_tta_pipeline

__all__ += ['yolov5_tta_pipeline']
