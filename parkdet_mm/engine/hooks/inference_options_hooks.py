"""YOLOv5 val.py's --half and --save-txt for MMEngine's test loop (tools/test.py)."""
import os.path as osp
from pathlib import Path
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmyolo.registry import HOOKS
from parkdet_challenge.yolo_txt import label_lines, write_label_file
from parkdet_mm.models import half_precision


@HOOKS.register_module()
class HalfPrecisionHook(Hook):
    """Before the test loop starts (the checkpoint loaded), the networks of the
    model's detectors run in FP16 (:func:`~parkdet_mm.models.half_precision`,
    YOLOv5's ``--half``; CUDA only)."""

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        half_precision(model)


@HOOKS.register_module()
class YOLOLabelsHook(Hook):
    """After each test iteration, every image's detections as YOLOv5's label file
    ``OUT_DIR/STEM.txt`` (``class cx cy w h`` normalized, with ``save_conf`` the
    score too; :mod:`parkdet_challenge.yolo_txt`); ``out_dir`` defaults to
    ``WORK_DIR/labels``. Each process writes its own images."""

    def __init__(self, out_dir: Optional[str] = None, save_conf: bool = False) -> None:
        self.out_dir = out_dir
        self.save_conf = save_conf

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        out_dir = self.out_dir or osp.join(runner.work_dir, 'labels')
        for sample in outputs or ():
            pred = sample.pred_instances.cpu()
            height, width = sample.ori_shape[:2]
            write_label_file(out_dir, Path(sample.img_path).stem, label_lines(
                pred.bboxes, pred.labels, width, height,
                pred.scores if self.save_conf else None))
