"""Transcriptions of YOLOv5's forward pass and NMS that the inference tests compare with."""
import torch
from mmcv.ops import nms


def yolov5_forward_once(detector, x):
    """Detect's inference output (bs, sum(na*ny*nx), 5 + nc): xywh, obj, cls, in
    YOLOv5's order (level, anchor, y, x), from the same convolution outputs."""
    head = detector.bbox_head
    cls_scores, bbox_preds, objectnesses = head(detector.extract_feat(x))
    na, nc = head.num_base_priors, head.num_classes
    z = []
    for i, stride in enumerate(head.featmap_strides):
        bs, _, ny, nx = bbox_preds[i].shape
        # Detect's x[i].view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2)
        p = torch.cat([
            bbox_preds[i].view(bs, na, 4, ny, nx),
            objectnesses[i].view(bs, na, 1, ny, nx),
            cls_scores[i].view(bs, na, nc, ny, nx)
        ], 2).permute(0, 1, 3, 4, 2)
        yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing='ij')
        grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).float()
        anchor_grid = torch.tensor(
            head.prior_generator.base_sizes[i]).float().view(1, na, 1, 1, 2)
        y = p.sigmoid()
        xy = (y[..., 0:2] * 2 - 0.5 + grid) * stride
        wh = (y[..., 2:4] * 2)**2 * anchor_grid
        y = torch.cat((xy, wh, y[..., 4:]), -1)
        z.append(y.view(bs, -1, 5 + nc))
    return torch.cat(z, 1)


def xywh2xyxy(x):
    return torch.cat((x[:, :2] - x[:, 2:4] / 2, x[:, :2] + x[:, 2:4] / 2), 1)


def yolov5_nms(prediction, conf_thres=0.01, iou_thres=0.7, max_det=50, classes=None,
               agnostic=False, multi_label=True):
    """non_max_suppression (v6.1; v7.0 sorts by score before every NMS, not only
    above max_nms, which changes nothing but ties): the ``classes`` filter after
    the score threshold, before the NMS and ``max_det``; class-aware by max_wh
    offsets unless ``agnostic``."""
    xc = prediction[..., 4] > conf_thres
    max_wh, max_nms = 7680, 30000
    output = []
    for xi, x in enumerate(prediction):
        x = x[xc[xi]].clone()
        x[:, 5:] *= x[:, 4:5]
        box = xywh2xyxy(x[:, :4])
        if multi_label:
            i, j = (x[:, 5:] > conf_thres).nonzero(as_tuple=False).T
            x = torch.cat((box[i], x[i, j + 5, None], j[:, None].float()), 1)
        else:
            conf, j = x[:, 5:].max(1, keepdim=True)
            x = torch.cat((box, conf, j.float()), 1)[conf.view(-1) > conf_thres]
        if classes is not None:
            x = x[(x[:, 5:6] == torch.tensor(classes, device=x.device)).any(1)]
        if x.shape[0] > max_nms:
            x = x[x[:, 4].argsort(descending=True)[:max_nms]]
        c = x[:, 5:6] * (0 if agnostic else max_wh)
        _, keep = nms(x[:, :4] + c, x[:, 4], iou_thres)
        output.append(x[keep[:max_det]])
    return output
