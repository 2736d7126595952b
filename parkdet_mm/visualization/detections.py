"""Detections drawn on images: YOLOv5's detect.py style, and predict's --show-dir.

:class:`YOLOv5DetLocalVisualizer` is MMDetection's ``DetLocalVisualizer`` drawing
as YOLOv5's ``Annotator`` does: boxes in their class colours, ``class score``
written on a box of the class colour above each box (inside it at the top edge
where there is no room above), a line width, labels or scores left off on
request. :class:`~parkdet_mm.apis.YOLOv5Inferencer` draws with it, so does
MMDetection's ``DetInferencer.visualize`` through ``add_datasample``.
"""
import os.path as osp
import warnings
from typing import List, Mapping, Optional, Sequence

import mmcv
import numpy as np
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmdet.visualization.palette import get_palette
from mmengine.structures import InstanceData

from mmyolo.registry import VISUALIZERS


@VISUALIZERS.register_module()
class YOLOv5DetLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` with YOLOv5's labels.

    Args:
        line_width: Box line width in pixels (YOLOv5's ``--line-thickness``);
            the labels' font size follows it (4 x, at least 8).
        hide_labels: Draw no class names nor scores (``--hide-labels``).
        hide_conf: Draw class names without scores (``--hide-conf``).
        **kwargs: ``DetLocalVisualizer``'s (``name``, ``vis_backends``, ...).
    """

    def __init__(self, name: str = 'visualizer', line_width: int = 3,
                 hide_labels: bool = False, hide_conf: bool = False,
                 **kwargs) -> None:
        super().__init__(name=name, line_width=line_width, **kwargs)
        self.hide_labels = hide_labels
        self.hide_conf = hide_conf

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List[str]],
                        palette: Optional[List[tuple]]) -> np.ndarray:
        """``image`` (RGB) with ``instances``' boxes and labels; RGB."""
        self.set_image(image)
        if not len(instances):
            return self.get_image()
        labels = instances.labels.tolist()
        if classes is None:
            classes = [str(k) for k in range(max(labels) + 1)]
        palette = get_palette(palette or 'random', len(classes))
        colours = [palette[k] for k in labels]
        bboxes = instances.bboxes
        self.draw_bboxes(bboxes, edge_colors=colours, line_widths=self.line_width)
        if not self.hide_labels:
            scores = (None if self.hide_conf or 'scores' not in instances
                      else instances.scores.tolist())
            texts = [classes[k] if scores is None else f'{classes[k]} {scores[i]:.2f}'
                     for i, k in enumerate(labels)]
            size = max(8, 4 * self.line_width)
            with warnings.catch_warnings():
                # mmengine warns for every label near the image's edge; the boxes
                # are clipped to the image, so it says nothing to act on.
                warnings.filterwarnings('ignore', message='Warning: The .* is out of bounds')
                # above the box, or inside it where there is no room above
                self.draw_texts(
                    texts, bboxes[:, :2], colors='white', font_sizes=size,
                    vertical_alignments=['bottom' if y > size else 'top'
                                         for y in bboxes[:, 1].tolist()],
                    bboxes=[dict(facecolor=tuple(c / 255 for c in colour), alpha=0.8,
                                 pad=0.5, edgecolor='none') for colour in colours])
        return self.get_image()

    def draw_detections(self, image: np.ndarray, instances: InstanceData) -> np.ndarray:
        """``image`` (BGR, as OpenCV reads it) with ``instances`` drawn; BGR."""
        classes = self.dataset_meta.get('classes')
        palette = self.dataset_meta.get('palette')
        return self._draw_instances(image[..., ::-1], instances, classes,
                                    palette)[..., ::-1]


def draw_predictions(predictions: Mapping[int, InstanceData],
                     dataset_meta: dict, show_dir: str, count: int,
                     score_thr: float) -> int:
    """Draw the first ``count`` images of ``predictions`` (image id -> detections
    whose metainfo holds ``img_path``) into ``show_dir`` under their file names with
    MMDetection's ``DetLocalVisualizer`` (``dataset_meta``: the data set's classes
    and palette), boxes scoring above ``score_thr``; the number drawn."""
    visualizer = VISUALIZERS.build(
        dict(type='mmdet.DetLocalVisualizer', name='predict_show',
             vis_backends=[dict(type='LocalVisBackend')]))
    visualizer.dataset_meta = dataset_meta
    drawn: Sequence[InstanceData] = list(predictions.values())[:count]
    for pred in drawn:
        name = osp.basename(pred.img_path)
        sample = DetDataSample()
        sample.pred_instances = pred
        visualizer.add_datasample(
            name, mmcv.imread(pred.img_path, channel_order='rgb'), sample,
            draw_gt=False, pred_score_thr=score_thr,
            out_file=osp.join(show_dir, name))
    return len(drawn)
