"""--slice: the model on SAHI's overlapping tiles and on the whole image, merged by the
NMS, finds small objects that the whole image at the test size loses."""
import numpy as np
import torch
from conftest import run_tool
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from scipy import ndimage

from parkdet_mm.config import load_config
from parkdet_mm.models.tta import SlicedInferenceModel


class BrightBlobDetector(BaseModel):
    """A detector with a resolution limit: each bright blob of the model's input at
    least ``min_side`` pixels wide and high is a box (score 0.9, class 0), mapped
    back to original pixels as the YOLOv5 head maps its boxes (padding off, then
    the scale). Objects smaller than that in the input are lost, as by any detector
    at too low a resolution."""

    def __init__(self, min_side: int = 3):
        super().__init__(data_preprocessor=dict(
            type='mmdet.DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
            bgr_to_rgb=True))
        self.min_side = min_side
        self.test_cfg = ConfigDict(nms=dict(type='nms', iou_threshold=0.5),
                                   max_per_img=100)

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def test_step(self, data):
        data = self.data_preprocessor(data, False)
        samples = data['data_samples']
        for image, sample in zip(data['inputs'], samples):
            blobs, _ = ndimage.label(image.mean(0).numpy() > 0.75)
            boxes = []
            for rows, cols in ndimage.find_objects(blobs):
                if min(rows.stop - rows.start, cols.stop - cols.start) >= self.min_side:
                    boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            top, _, left, _ = sample.metainfo['pad_param']
            boxes -= boxes.new_tensor([left, top, left, top])
            boxes /= boxes.new_tensor(sample.metainfo['scale_factor']).repeat(2)
            result = InstanceData(bboxes=boxes, scores=torch.full((len(boxes), ), 0.9),
                                  labels=torch.zeros(len(boxes), dtype=torch.long))
            sample.pred_instances = result
        return samples


def _iou(a, b):
    x1, y1 = np.maximum(a[:2], b[:2])
    x2, y2 = np.minimum(a[2:], b[2:])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_tiles_find_the_small_objects_the_whole_image_loses(tiny_model):
    config, _ = tiny_model  # its test pipeline: letterboxed to 64 x 64
    pipeline = load_config(str(config)).test_dataloader.dataset.pipeline
    image = np.full((640, 800, 3), 60, np.uint8)
    truth = []
    for row in range(3):
        for col in range(4):
            x, y = 40 + col * 190 + row * 17, 50 + row * 200 + col * 9
            image[y:y + 12, x:x + 12] = 255  # 12 px: 1 px at the test size
            truth.append([x, y, x + 12, y + 12])
    model = SlicedInferenceModel(BrightBlobDetector(), slice_size=128, overlap_ratio=0.25,
                                 test_pipeline=pipeline).eval()
    tiles = model.tiles(640, 800)
    # SAHI's grid: 128 px tiles every 96 px (25 % overlap), the last of each row
    # and column against the image's edge; together they cover the image
    assert len(tiles) == 8 * 7 and tiles[0] == [0, 0, 128, 128]
    assert all(x2 - x1 == y2 - y1 == 128 and x2 <= 800 and y2 <= 640
               for x1, y1, x2, y2 in tiles)
    covered = np.zeros((640, 800), bool)
    for x1, y1, x2, y2 in tiles:
        covered[y1:y2, x1:x2] = True
    assert covered.all()

    whole = model._predict_arrays([image])[0]
    sliced = model.predict_image(image)
    assert len(whole) == 0  # the whole image at 64 px: every object under 2 px
    # every object found once (tiles overlap: the NMS merged their boxes), in place
    assert len(sliced) == len(truth)
    for box in truth:
        best = max(_iou(np.array(box, float), b.numpy()) for b in sliced.bboxes)
        assert best > 0.6, (box, sliced.bboxes)

    # a test batch: the whole-image boxes it already has are merged with the tiles'
    sample = DetDataSample(metainfo=dict(img_shape=(640, 800)))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[0., 0., 800., 640.]]), scores=torch.tensor([0.5]),
        labels=torch.tensor([1]))
    merged = model.predict_image(image, sample.pred_instances)
    assert len(merged) == len(truth) + 1 and merged.scores[-1] == 0.5


def test_test_py_slice_prints_its_map_beside_the_plain_one(tiny_model, tmp_path):
    config, checkpoint = tiny_model
    out = run_tool(['tools/test.py', str(config), str(checkpoint), '--slice', '48',
                    '--overlap', '0.25', '--work-dir', str(tmp_path)]).stdout
    table = out[out.index('--slice 48 --overlap 0.25:'):].splitlines()
    assert table[1].split() == ['plain', 'sliced']
    assert [row.split()[0] for row in table[2:5]] == ['mAP', 'mAP_50', 'mAP_75']
    assert all(0 <= float(v) <= 1 for row in table[2:5] for v in row.split()[1:])
    # the sliced test wrote the files
    assert (tmp_path / 'submission' / 'preds.json').is_file()


def test_slice_refuses_bad_sizes(tiny_model, tmp_path):
    from conftest import assert_one_line_error
    config, checkpoint = tiny_model
    assert_one_line_error(run_tool(['tools/test.py', str(config), str(checkpoint),
                                    '--slice', '8', '--work-dir', str(tmp_path)],
                                   check=False), '--slice 8')
