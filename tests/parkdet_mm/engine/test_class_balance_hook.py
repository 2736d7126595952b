"""ClassBalanceHook feeding EpochPartSampler in real (tiny) MMEngine training runs."""
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from parkdet_mm.datasets import EpochPartSampler, image_weights
from parkdet_mm.engine.hooks import ClassBalanceHook

CLASSES = ('car', 'person', 'cart')
# Box labels per image: 'cart' is rare, images 0 and 5 have no boxes at all.
LABELS = [[], [0, 0], [0, 1], [1], [0, 0, 0], [], [2], [0, 1, 1], [0], [1, 2],
          [0, 0], [1]]
COUNTS = np.array([np.bincount(labels, minlength=3) for labels in LABELS])


class BoxesDataset(torch.utils.data.Dataset):
    """Annotations in MMDetection's format; an item is just its index."""
    metainfo = dict(classes=CLASSES)

    def __len__(self):
        return len(LABELS)

    def get_data_info(self, index):
        return dict(instances=[
            dict(bbox=[0, 0, 1, 1], bbox_label=label, ignore_flag=0)
            for label in LABELS[index]
        ])

    def __getitem__(self, index):
        return dict(inputs=torch.tensor([float(index)]), data_samples=index)


class ToyModel(BaseModel):
    """Records the images each training step reads."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            self.seen.extend(data_samples)
            return dict(loss=(self.weight * torch.stack(inputs)).sum())
        return [self.weight.detach()] * len(inputs)


class FakeChallengeMetric(BaseMetric):
    """Reports per-class APs that grow with every validation."""
    default_prefix = 'challenge'

    def __init__(self):
        super().__init__()
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        self.calls += 1
        return {f'{name}_AP': self.calls * (0.1 + 0.05 * index)
                for index, name in enumerate(CLASSES)}


def fake_maps(after_validations):
    return np.array([after_validations * (0.1 + 0.05 * index)
                     for index in range(len(CLASSES))])


class RecordSampler(Hook):
    """Runs after every other before_train_epoch hook and notes what the sampler got."""
    priority = 'LOWEST'

    def __init__(self):
        self.weights, self.drawn = {}, {}

    def before_train_epoch(self, runner):
        sampler = runner.train_dataloader.sampler
        self.weights[runner.epoch] = sampler.weights
        self.drawn[runner.epoch] = sampler.epoch_indices(runner.epoch).tolist()


def make_runner(work_dir, max_epochs, validate=True, resume=False,
                sampler=dict(type='EpochPartSampler', parts=2)):
    record = RecordSampler()
    val = dict(val_dataloader=dict(dataset=BoxesDataset(), batch_size=4,
                                   sampler=dict(type='DefaultSampler',
                                                shuffle=False)),
               val_cfg=dict(),
               val_evaluator=Evaluator([FakeChallengeMetric()]))
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=BoxesDataset(), sampler=sampler,
                              batch_size=2, num_workers=0),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        custom_hooks=[dict(type='ClassBalanceHook'), record],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=100)),
        default_scope='mmyolo',
        randomness=dict(seed=0),
        resume=resume,
        log_level='WARNING',
        **(val if validate else {}))
    return runner, record


def test_weights_follow_counts_and_validation(tmp_path):
    runner, record = make_runner(tmp_path, max_epochs=3)
    runner.train()
    assert sorted(record.weights) == [0, 1, 2]
    # Epoch 0 has seen no validation: zero maps; epoch e uses the e-th validation.
    for epoch in range(3):
        np.testing.assert_allclose(record.weights[epoch],
                                   image_weights(COUNTS, fake_maps(epoch)))
    assert not np.allclose(record.weights[1], record.weights[2])
    # Training read exactly the weighted draws, never an image without boxes.
    seen = runner.model.seen
    assert seen == sum((record.drawn[epoch] for epoch in range(3)), [])
    assert len(seen) == 3 * len(LABELS) // 2
    assert not {0, 5} & set(seen)


def test_without_validation_maps_stay_zero(tmp_path):
    runner, record = make_runner(tmp_path, max_epochs=2, validate=False)
    runner.train()
    for epoch in range(2):
        np.testing.assert_allclose(record.weights[epoch], image_weights(COUNTS))


def test_resume_restores_the_saved_maps(tmp_path):
    first, _ = make_runner(tmp_path, max_epochs=2)
    first.train()
    resumed, record = make_runner(tmp_path, max_epochs=3, resume=True)
    resumed.train()
    assert sorted(record.weights) == [2]
    # epoch_2.pth was written before the validation that followed epoch 2 (mmengine
    # saves in after_train_epoch), so it holds the maps of the first validation.
    np.testing.assert_allclose(record.weights[2],
                               image_weights(COUNTS, fake_maps(1)))


def test_resume_without_validation_continues_the_same_draws(tmp_path):
    whole, whole_record = make_runner(tmp_path / 'whole', max_epochs=3,
                                      validate=False)
    whole.train()
    first, _ = make_runner(tmp_path / 'split', max_epochs=2, validate=False)
    first.train()
    resumed, record = make_runner(tmp_path / 'split', max_epochs=3,
                                  validate=False, resume=True)
    resumed.train()
    np.testing.assert_array_equal(record.weights[2], whole_record.weights[2])
    assert resumed.model.seen == whole_record.drawn[2] == whole.model.seen[-6:]


def test_refuses_another_sampler(tmp_path):
    runner, _ = make_runner(tmp_path, max_epochs=1,
                            sampler=dict(type='DefaultSampler', shuffle=True))
    with pytest.raises(TypeError, match='EpochPartSampler'):
        runner.train()


def started_hook():
    """A hook after before_train, on a stand-in runner."""
    sampler = EpochPartSampler(BoxesDataset(), parts=2, seed=0)
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(sampler=sampler,
                                         dataset=BoxesDataset()),
        logger=logging.getLogger('test_class_balance_hook'))
    hook = ClassBalanceHook(metric_key='val/{name}')
    hook.before_train(runner)
    return hook, runner


def test_missing_or_undefined_classes_take_the_mean():
    hook, runner = started_hook()
    hook.after_val_epoch(runner, {'val/car': 0.2, 'val/person': float('nan')})
    np.testing.assert_allclose(hook.maps, [0.2, 0.2, 0.2])
    hook.after_val_epoch(runner, {'val/car': 0.2, 'val/person': 0.4,
                                  'val/cart': -1.0})
    np.testing.assert_allclose(hook.maps, [0.2, 0.4, 0.3])


def test_unrelated_metrics_keep_the_maps():
    hook, runner = started_hook()
    hook.after_val_epoch(runner, {'coco/bbox_mAP': 0.5})
    np.testing.assert_array_equal(hook.maps, np.zeros(3))


def test_percentages_are_refused():
    hook, runner = started_hook()
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        hook.after_val_epoch(runner, {'val/car': 20.0, 'val/person': 40.0,
                                      'val/cart': 0.0})


def test_logs_the_sampling_share_once(caplog):
    hook, runner = started_hook()
    with caplog.at_level(logging.INFO, logger='test_class_balance_hook'):
        hook.before_train_epoch(runner)
        hook.before_train_epoch(runner)
    tables = [r.message for r in caplog.records if 'share' in r.message]
    assert len(tables) == 1
    assert tables[0].splitlines()[1].split() == [
        'class', 'boxes', 'unweighted', 'weighted'
    ]
    assert tables[0].splitlines()[-1].split()[:2] == ['cart', '2']
