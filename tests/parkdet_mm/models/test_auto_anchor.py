"""AutoAnchor: YOLOv5's metric, evolution on badly fitting boxes, anchors kept with
the weights through training, resume, test and predict."""
import json
import runpy
import sys

import numpy as np
import pytest
import torch
from conftest import CLASSES, REPO, run_tool, write_tiny_config
from PIL import Image, ImageDraw

from parkdet_mm.models.anchor_fit import anchor_fit, box_sizes_per_image
from parkdet_mm.models.anchors import model_anchors, set_model_anchors
from parkdet_mm.models.autoanchor import check_anchors


def test_anchor_fit_is_yolov5s_metric():
    """Against utils/autoanchor.py check_anchors' metric, transcribed in torch."""
    rng = np.random.default_rng(0)
    wh = rng.uniform(2, 200, (500, 2)).astype(np.float32)
    anchors = rng.uniform(5, 300, (12, 2)).astype(np.float32)
    for thr in (4.0, 2.91):
        w, k = torch.tensor(wh), torch.tensor(anchors)
        r = w[:, None] / k[None]
        x = torch.min(r, 1 / r).min(2)[0]
        best = x.max(1)[0]
        aat = (x > 1 / thr).float().sum(1).mean()
        bpr = (best > 1 / thr).float().mean()
        assert anchor_fit(wh, anchors, thr) == pytest.approx(
            (float(bpr), float(aat)), rel=1e-6)


def test_good_anchors_are_kept_and_bad_ones_evolved():
    rng = np.random.default_rng(1)
    # thin bars no stock anchor holds within a ratio of 4
    sizes = [np.array([[50.0, 2.5], [3.0, 40.0]]) * rng.uniform(0.8, 1.2)
             for _ in range(30)]
    fitting = [[[50.0, 2.5], [3.0, 40.0], [45.0, 3.0]]] * 4
    lines = []
    assert check_anchors(sizes, fitting, [8, 16, 32, 64], 4.0, 64,
                         np.random.default_rng(0), log=lines.append) is None
    assert 'Current anchors are a good fit to dataset' in lines[0]

    stock = [[[4, 5], [9, 8], [8, 19]], [[19, 14], [17, 30], [36, 27]],
             [[28, 60], [61, 53], [48, 108]], [[87, 123], [148, 76],
                                                [185, 158]]]
    lines = []
    evolved = check_anchors(sizes, stock, [8, 16, 32, 64], 4.0, 64,
                            np.random.default_rng(0), generations=300,
                            log=lines.append)
    assert 'Anchors are a poor fit to dataset' in lines[0]
    assert evolved is not None and np.shape(evolved) == (4, 3, 2)
    wh = np.concatenate(sizes)
    old_bpr = anchor_fit(wh, np.reshape(stock, (-1, 2)), 4.0)[0]
    new_bpr = anchor_fit(wh, np.reshape(evolved, (-1, 2)), 4.0)[0]
    assert old_bpr < 0.98 and new_bpr > old_bpr
    areas = np.prod(evolved, -1).mean(-1)
    assert list(areas) == sorted(areas)  # small anchors on fine levels


@pytest.fixture(scope='module')
def bar_coco(tmp_path_factory):
    """Images of thin bars: boxes no stock anchor fits."""
    root = tmp_path_factory.mktemp('bars')
    (root / 'images').mkdir()
    (root / 'annotations').mkdir()
    rng = np.random.default_rng(0)
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    for split, count in (('train', 8), ('val', 2), ('test', 2)):
        images, annotations = [], []
        for i in range(count):
            image = Image.new('RGB', (96, 64), (110, 110, 110))
            draw = ImageDraw.Draw(image)
            image_id = len(images) + 1
            for label, (w, h) in ((0, (80, 3)), (1, (3, 56))):
                x, y = (int(v) for v in rng.integers(2, (96 - w, 64 - h)))
                draw.rectangle([x, y, x + w - 1, y + h - 1],
                               fill=(200, 40 + 150 * label, 40))
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=label + 1, bbox=[x, y, w, h], area=w * h,
                    iscrowd=0))
            file_name = f'images/{split}_{i}.png'
            image.save(root / file_name)
            images.append(dict(id=image_id, file_name=file_name, width=96,
                               height=64))
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(
            dict(images=images, annotations=annotations,
                 categories=categories)))
    return root


def test_training_evolves_saves_and_reuses_the_anchors(bar_coco, tmp_path,
                                                       monkeypatch, capsys):
    import parkdet_mm  # noqa: F401
    from parkdet_mm.apis import load_detector
    from parkdet_mm.config import load_config
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    config = write_tiny_config(tmp_path / 'tiny.py', bar_coco, epochs=1)
    with config.open('a') as f:  # the demo's anchors (at 256 px): none fits a bar
        f.write("anchors = [[(round(w / 5), round(h / 5)) for w, h in level]\n"
                "           for level in _base_.yolov5_p6_anchors]\n")
    cfg = load_config(str(config))
    stock = [[list(map(float, pair)) for pair in level]
             for level in cfg.model.bbox_head.prior_generator.base_sizes]
    work = tmp_path / 'work'

    # the tool, in this process (it only reads the data set)
    monkeypatch.setattr(sys, 'argv', ['check_anchors.py', str(config)])
    runpy.run_path(str(REPO / 'tools' / 'check_anchors.py'), run_name='__main__')
    printed = capsys.readouterr().out
    assert 'Anchors are a poor fit to dataset' in printed
    assert '\nanchors = [\n    [(' in printed

    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    log = proc.stdout + proc.stderr
    assert 'Anchors are a poor fit to dataset' in log
    assert 'new anchors in use' in log
    anchors = load_local_checkpoint(str(work / 'epoch_1.pth'))['meta']['anchors']
    assert np.shape(anchors) == (4, 3, 2) and anchors != stock

    from mmengine.registry import init_default_scope

    from mmyolo.registry import DATASETS
    init_default_scope('mmyolo')
    sizes = np.concatenate(box_sizes_per_image(
        DATASETS.build(cfg.train_dataloader.dataset), 64))
    assert anchor_fit(sizes, np.reshape(anchors, (-1, 2)), 4.0)[0] > \
        anchor_fit(sizes, np.reshape(stock, (-1, 2)), 4.0)[0]

    # resume: no new check, the checkpoint's anchors go on
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--resume', '--epochs', '2'])
    log = proc.stdout + proc.stderr
    assert 'Best Possible Recall' not in log
    resumed = load_local_checkpoint(str(work / 'epoch_2.pth'))['meta']['anchors']
    assert resumed == anchors

    # test (with TTA): the hook applies them when the checkpoint is loaded
    proc = run_tool(['tools/test.py', str(config), str(work / 'epoch_2.pth'),
                     '--tta', '--work-dir', str(tmp_path / 'test'), '--out-dir',
                     str(tmp_path / 'test' / 'out')])
    assert f'anchors from the checkpoint: {anchors}' in proc.stdout + proc.stderr
    assert (tmp_path / 'test' / 'out' / 'preds.json').is_file()

    # predict: load_detector applies them, to the TTA model's detector too
    for tta in (False, True):
        model = load_detector(cfg, str(work / 'epoch_2.pth'), tta, 'cpu')
        assert model_anchors(model) == anchors
        head = (model.module if tta else model).bbox_head
        expected = torch.tensor(anchors) / torch.tensor(
            [8.0, 16, 32, 64])[:, None, None]
        assert torch.allclose(head.priors_base_sizes, expected)


def test_set_model_anchors_moves_the_priors(tiny_coco, tmp_path):
    from mmengine.registry import init_default_scope

    import parkdet_mm  # noqa: F401
    from mmyolo.registry import MODELS
    from parkdet_mm.config import load_config
    cfg = load_config(str(write_tiny_config(tmp_path / 't.py', tiny_coco)))
    init_default_scope('mmyolo')
    model = MODELS.build(cfg.model).eval()
    head = model.bbox_head
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        head.predict_by_feat(*model(x, mode='tensor'),
                             batch_img_metas=[dict(ori_shape=(64, 64),
                                                   scale_factor=(1, 1))])
    new = [[[float(10 * (level + 1) + i), 5.0] for i in range(3)]
           for level in range(4)]
    set_model_anchors(model, new)
    priors = head.prior_generator.grid_priors([(8, 8), (4, 4), (2, 2), (1, 1)],
                                              device='cpu')
    widths = priors[1][:3, 2] - priors[1][:3, 0]
    assert widths.tolist() == [20.0, 21.0, 22.0]
    assert head.featmap_sizes[0].numel() == 1  # cached priors dropped
    with pytest.raises(Exception, match='do not fit'):
        set_model_anchors(model, new[:3])
