from .atomic_checkpoint_hook import AtomicCheckpointHook
from .auto_anchor_hook import AutoAnchorHook
from .class_balance_hook import ClassBalanceHook
from .compile_model_hook import CompileModelHook
from .diagnostics_visualization_hook import DiagnosticsVisualizationHook
from .early_stopping_hook import YOLOv5EarlyStoppingHook
from .freeze_layers_hook import FreezeLayersHook, yolov5_backbone_layers
from .image_cache_hook import ImageCacheHook
from .inference_options_hooks import HalfPrecisionHook, YOLOLabelsHook
from .inference_speed_hook import InferenceSpeedHook
from .non_finite_loss_hook import NonFiniteLossHook
from .optimizer_step_ema_hook import OptimizerStepEMAHook, YOLOv5ModelEMA
from .train_batch_visualization_hook import TrainBatchVisualizationHook
from .training_curves_hook import TrainingCurvesHook
from .yolov5_loop_scheduler_hook import YOLOv5LoopSchedulerHook

__all__ = [
    'AtomicCheckpointHook', 'AutoAnchorHook', 'ClassBalanceHook', 'CompileModelHook',
    'DiagnosticsVisualizationHook', 'TrainBatchVisualizationHook',
    'FreezeLayersHook', 'yolov5_backbone_layers', 'ImageCacheHook',
    'HalfPrecisionHook', 'InferenceSpeedHook', 'YOLOLabelsHook',
    'NonFiniteLossHook', 'OptimizerStepEMAHook', 'YOLOv5ModelEMA',
    'TrainingCurvesHook', 'YOLOv5LoopSchedulerHook', 'YOLOv5EarlyStoppingHook'
]


def _register_mmdet_hooks_by_name() -> None:
    """Make MMDetection's hooks buildable by their bare names in this project's
    scope (mmyolo), as MMDetection's configs name them: a child config's
    ``custom_hooks = _base_.custom_hooks + [dict(type='CheckInvalidLossHook')]``.
    MMYOLO's hook registry descends from MMEngine's, not MMDetection's, so it
    otherwise knows them only as ``mmdet.CheckInvalidLossHook``. Names MMYOLO or
    this project registered keep their own hook."""
    import mmdet.engine.hooks  # noqa: F401  (registers them)
    from mmdet.registry import HOOKS as MMDET_HOOKS

    from mmyolo.registry import HOOKS
    for name, hook in MMDET_HOOKS.module_dict.items():
        if name not in HOOKS.module_dict:
            HOOKS.register_module(name=name, module=hook)


_register_mmdet_hooks_by_name()
