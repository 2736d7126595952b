"""YOLOv5Inferencer: one model or several fused, on images or the test loader."""
import copy

import cv2
import torch
from mmengine.runner import Runner


def _test_batch(cfg):
    return next(iter(Runner.build_dataloader(cfg.test_dataloader)))


def _same(a, b):
    return (torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)
            and torch.equal(a.labels, b.labels))


def test_wbf_ensemble_fuses_each_models_own_detections(two_models):
    from mmdet.models.utils import weighted_boxes_fusion

    from parkdet_mm.apis import YOLOv5Inferencer, load_detector
    from parkdet_mm.config import load_config
    config, first, second = two_models
    cfg = load_config(str(config))
    batch = _test_batch(cfg)
    fused = YOLOv5Inferencer(cfg, [first, second], ensemble='wbf',
                             wbf_iou=0.55).forward(copy.deepcopy(batch))
    with torch.no_grad():
        alone = [[s.pred_instances for s in load_detector(cfg, c, False, 'cpu')
                  .test_step(copy.deepcopy(batch))] for c in (first, second)]
    for i, sample in enumerate(fused):
        boxes, scores, labels = weighted_boxes_fusion(
            [m[i].bboxes for m in alone], [m[i].scores for m in alone],
            [m[i].labels for m in alone], iou_thr=0.55)
        keep = scores.argsort(descending=True)[:cfg.max_per_img]
        pred = sample.pred_instances
        assert len(pred) > 0 and not _same(pred, alone[0][i])
        torch.testing.assert_close(pred.bboxes, boxes[keep].float())
        torch.testing.assert_close(pred.scores, scores[keep].float())
        assert torch.equal(pred.labels, labels[keep].long())


def test_inferencer_on_images_detects_as_the_test_loop(tiny_model, tiny_coco):
    """The detect route (files or arrays through the inferencer's pipeline) gives
    the test loader's detections for the same images (square letterbox: the tiny
    config has no rectangular batches)."""
    from parkdet_mm.apis import YOLOv5Inferencer
    from parkdet_mm.config import load_config
    config, checkpoint = tiny_model
    cfg = load_config(str(config))
    inferencer = YOLOv5Inferencer(cfg, str(checkpoint), tta=True)
    expected = inferencer.predict_loader(Runner.build_dataloader(cfg.test_dataloader))
    paths = [pred.img_path for pred in expected.values()]
    arrays = [cv2.imread(path) for path in paths]
    for inputs in (paths, arrays):
        samples = [s for _, batch in inferencer.preprocess(inputs, batch_size=4)
                   for s in inferencer.forward(batch)]
        assert len(samples) == len(expected) == 4
        for sample, pred in zip(samples, expected.values()):
            assert len(pred) > 0 and _same(sample.pred_instances.cpu(), pred)
