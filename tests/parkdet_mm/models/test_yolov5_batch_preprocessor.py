"""YOLOv5BatchPreprocessor gives MMYOLO's YOLOv5DetDataPreprocessor's batches, bit
for bit, in training and in evaluation."""
import torch
from mmdet.structures import DetDataSample

from mmyolo.models.data_preprocessors import YOLOv5DetDataPreprocessor
from parkdet_mm.models.data_preprocessors import YOLOv5BatchPreprocessor

RECIPE = dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True)


def training_batch():
    images = torch.randint(0, 256, (4, 3, 32, 48), dtype=torch.uint8)
    boxes = torch.tensor([[0, 3, 1., 2., 10., 12.], [2, 0, 5., 5., 30., 20.]])
    return dict(inputs=images, data_samples=dict(bboxes_labels=boxes))


def test_training_batches_equal_mmyolos_bit_for_bit():
    batch = training_batch()
    for settings in (RECIPE, dict(mean=[10., 20., 30.], std=[50., 60., 70.],
                                  bgr_to_rgb=True), dict(RECIPE, bgr_to_rgb=False)):
        ours = YOLOv5BatchPreprocessor(**settings)(batch, training=True)
        theirs = YOLOv5DetDataPreprocessor(**settings)(batch, training=True)
        assert ours['inputs'].dtype == torch.float32
        assert torch.equal(ours['inputs'], theirs['inputs']), settings
        assert torch.equal(ours['data_samples']['bboxes_labels'],
                           theirs['data_samples']['bboxes_labels'])
        assert ours['data_samples']['img_metas'] == theirs['data_samples']['img_metas']
    assert batch['inputs'].dtype == torch.uint8  # the loader's batch untouched
    ours = YOLOv5BatchPreprocessor(**RECIPE)
    ours(batch, training=True)
    # its own settings are back for the next batch
    assert ours._channel_conversion and ours._enable_normalize


def test_evaluation_batches_take_mmyolos_path():
    images = [torch.randint(0, 256, (3, 32, 40), dtype=torch.uint8),
              torch.randint(0, 256, (3, 24, 48), dtype=torch.uint8)]
    batch = dict(inputs=images, data_samples=[DetDataSample(), DetDataSample()])
    ours = YOLOv5BatchPreprocessor(**RECIPE, pad_size_divisor=32)(batch)
    theirs = YOLOv5DetDataPreprocessor(**RECIPE, pad_size_divisor=32)(batch)
    assert ours['inputs'].shape == (2, 3, 32, 64)
    assert torch.equal(ours['inputs'], theirs['inputs'])
