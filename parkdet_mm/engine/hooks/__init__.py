from .atomic_checkpoint_hook import AtomicCheckpointHook
from .auto_anchor_hook import AutoAnchorHook
from .class_balance_hook import ClassBalanceHook
from .diagnostics_visualization_hook import DiagnosticsVisualizationHook
from .early_stopping_hook import YOLOv5EarlyStoppingHook
from .freeze_layers_hook import FreezeLayersHook, yolov5_backbone_layers
from .image_cache_hook import ImageCacheHook
from .inference_speed_hook import InferenceSpeedHook
from .non_finite_loss_hook import NonFiniteLossHook
from .optimizer_step_ema_hook import OptimizerStepEMAHook, YOLOv5ModelEMA
from .train_batch_visualization_hook import TrainBatchVisualizationHook
from .training_curves_hook import TrainingCurvesHook
from .yolov5_loop_scheduler_hook import YOLOv5LoopSchedulerHook

__all__ = [
    'AtomicCheckpointHook', 'AutoAnchorHook', 'ClassBalanceHook',
    'DiagnosticsVisualizationHook', 'TrainBatchVisualizationHook',
    'FreezeLayersHook', 'yolov5_backbone_layers', 'ImageCacheHook',
    'InferenceSpeedHook',
    'NonFiniteLossHook', 'OptimizerStepEMAHook', 'YOLOv5ModelEMA',
    'TrainingCurvesHook', 'YOLOv5LoopSchedulerHook', 'YOLOv5EarlyStoppingHook'
]
