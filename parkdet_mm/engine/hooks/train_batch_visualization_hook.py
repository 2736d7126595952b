"""Draw the first training batch, as YOLOv5's train_batch0.jpg."""
import os.path as osp
from typing import Sequence

import torch
from mmdet.structures import DetDataSample
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.structures import InstanceData

from mmyolo.registry import HOOKS, VISUALIZERS
from parkdet_mm.visualization.batch_grid import draw_samples, write_png
from parkdet_mm.visualization.loggers import send_pictures


@HOOKS.register_module()
class TrainBatchVisualizationHook(Hook):
    """Draw the run's first training batch, images with their boxes and class
    names as the model gets them (after mosaic, affine, HSV and flip), into
    ``train_batch0.png`` next to the run's log and send it to the experiment
    loggers. A resumed run draws nothing.

    Args:
        max_images: At most this many images of the batch.
        loggers: Names of the visualizer's backends that also get the picture.
    """

    def __init__(self, max_images: int = 16, loggers: Sequence[str] = ()) -> None:
        self.max_images = max_images
        self.loggers = list(loggers)

    @master_only
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter != 0 or data_batch is None:
            return
        # yolov5_collate: a (B, 3, H, W) uint8 BGR tensor and, for the boxes, one
        # (N, 6) tensor of [image index, label, x1, y1, x2, y2]
        inputs = data_batch['inputs'][:self.max_images]
        boxes = data_batch['data_samples']['bboxes_labels']
        images, samples = [], []
        for index, image in enumerate(inputs):
            rows = boxes[boxes[:, 0] == index]
            sample = DetDataSample()
            sample.gt_instances = InstanceData(
                bboxes=rows[:, 2:6].float(), labels=rows[:, 1].to(torch.int64))
            images.append(image.permute(1, 2, 0).cpu().numpy()[..., ::-1])
            samples.append(sample)
        visualizer = VISUALIZERS.build(dict(
            type='mmdet.DetLocalVisualizer', name='train_batch', vis_backends=[]))
        visualizer.dataset_meta = runner.train_dataloader.dataset.metainfo
        path = osp.join(runner.log_dir, 'train_batch0.png')
        write_png(path, draw_samples(visualizer, images, samples,
                                     [f'image {i}' for i in range(len(images))]))
        send_pictures(runner.visualizer, self.loggers, [path])
