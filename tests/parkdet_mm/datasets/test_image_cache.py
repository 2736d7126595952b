"""The affine warp, the image cache (same output as from the files, rebuilt when a file
changes, shared with workers) and training past an image that breaks mid-run."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import draw_tiny_coco, run_tool, write_tiny_config
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401  (registers the transforms and the hook)
from mmyolo.datasets.transforms import YOLOv5RandomAffine
from mmyolo.registry import DATASETS
from parkdet_challenge.errors import InputError
from parkdet_mm.config import TrainingSize, config_training_size, load_config, training_size
from parkdet_mm.datasets.image_cache import ImageCache, disk_cache_file, mosaic_size
from parkdet_mm.datasets.transforms import YOLOv5RandomAffineWarp
from parkdet_mm.engine.hooks.image_cache_hook import attach_image_cache

AFFINE = dict(max_rotate_degree=10.0, max_translate_ratio=0.1,
              scaling_ratio_range=(0.5, 1.5), max_shear_degree=2.0,
              border=(-64, -64), border_val=(114, 114, 114))


def affine_input() -> dict:
    # smooth content: interpolation rounding, not edges, decides the differences
    y, x = np.mgrid[0:256, 0:256]
    img = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)
    boxes = HorizontalBoxes(torch.tensor([[20., 30., 120., 90.],
                                          [100., 140., 200., 250.]]))
    return dict(img=img, gt_bboxes=boxes, gt_bboxes_labels=np.array([1, 2]),
                gt_ignore_flags=np.zeros(2, dtype=bool))


@pytest.mark.parametrize('seed', range(4))
def test_affine_warp_matches_mmyolo_within_rounding(seed):
    np.random.seed(seed)
    ours = YOLOv5RandomAffineWarp(**AFFINE).transform(affine_input())
    np.random.seed(seed)
    theirs = YOLOv5RandomAffine(**AFFINE).transform(affine_input())
    assert ours['img'].shape == theirs['img'].shape == (128, 128, 3)
    diff = np.abs(ours['img'].astype(int) - theirs['img'].astype(int))
    assert diff.max() <= 1
    assert torch.equal(ours['gt_bboxes'].tensor, theirs['gt_bboxes'].tensor)
    assert np.array_equal(ours['gt_bboxes_labels'], theirs['gt_bboxes_labels'])


def test_mosaic_size_keeps_images_mosaic_would_resize_twice():
    assert mosaic_size(96, 64, (64, 64)) == (64, 42)
    # 49 * (64 / 49) rounds below 64: Mosaic would resize the cached 63-wide tile again
    assert mosaic_size(49, 30, (64, 64)) == (49, 30)
    assert mosaic_size(96, 64, None) == (96, 64)


@pytest.fixture()
def data_root(tmp_path) -> Path:
    """Training images of three sizes, one whose Mosaic resize is kept at file size."""
    root = tmp_path / 'data'
    draw_tiny_coco(root, 'train', 6, 1, seed=1, size=(96, 64))
    ann = root / 'annotations' / 'train.json'
    coco = json.loads(ann.read_text())
    for split, size, first in (('wide', (49, 30), 50), ('tall', (40, 90), 70)):
        extra = json.loads(draw_tiny_coco(root, split, 2, first, seed=first,
                                          size=size).read_text())
        coco['images'] += extra['images']
        coco['annotations'] += extra['annotations']
    ann.write_text(json.dumps(coco))
    draw_tiny_coco(root, 'val', 2, 101, seed=2)
    draw_tiny_coco(root, 'test', 2, 201, seed=3)
    return root


# The tiny config's img_scale, the size its mosaics resize the images to first
MOSAIC_SCALE = (64, 64)


def build_train_dataset(tmp_path: Path, root: Path):
    cfg = load_config(str(write_tiny_config(tmp_path / 'tiny.py', root)))
    # what the derivation gives ImageCacheHook (mosaic_prob 1: every sample a mosaic)
    assert tuple(cfg.default_hooks.image_cache.scale) == MOSAIC_SCALE
    init_default_scope('mmyolo')
    return DATASETS.build(cfg.train_dataloader.dataset)


def pipeline_outputs(dataset, seeds=range(6)):
    outputs = []
    for seed in seeds:
        np.random.seed(seed)
        sample = dataset[seed % len(dataset)]
        outputs.append((sample['inputs'],
                        sample['data_samples'].gt_instances.bboxes.tensor,
                        sample['data_samples'].gt_instances.labels))
    return outputs


@pytest.mark.parametrize('mode', ['ram', 'disk'])
def test_cached_pipeline_gives_the_same_images_and_boxes(tmp_path, data_root,
                                                         mode):
    dataset = build_train_dataset(tmp_path, data_root)
    from_files = pipeline_outputs(dataset)
    cache = attach_image_cache(dataset, mode, MOSAIC_SCALE)
    assert len(cache) == len(dataset) == 10
    # the 96x64 images are held at Mosaic's 64x42, the 49x30 ones at file size
    first = cache.get(dataset.get_data_info(0)['img_path'])
    assert first.img.shape == (42, 64, 3) and first.ori_shape == (64, 96)
    assert not first.img.flags.writeable
    from_cache = pipeline_outputs(dataset)
    for (img_f, boxes_f, labels_f), (img_c, boxes_c, labels_c) in zip(
            from_files, from_cache):
        assert torch.equal(img_f, img_c)
        assert torch.equal(boxes_f, boxes_c)
        assert torch.equal(labels_f, labels_c)
    assert sum(len(b) for _, b, _ in from_files) > 0


def test_disk_cache_is_rebuilt_for_a_changed_file(tmp_path, data_root):
    dataset = build_train_dataset(tmp_path, data_root)
    attach_image_cache(dataset, 'disk', MOSAIC_SCALE)
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    arrays = [disk_cache_file(p, (64, 64)) for p in paths]
    assert all(os.path.isfile(a) for a in arrays)
    written = [os.stat(a).st_mtime_ns for a in arrays]

    from PIL import Image
    Image.new('RGB', (96, 64), (255, 0, 0)).save(paths[3])  # new content and size
    cache = attach_image_cache(dataset, 'disk', MOSAIC_SCALE)
    rewritten = [os.stat(a).st_mtime_ns != w for a, w in zip(arrays, written)]
    assert rewritten == [i == 3 for i in range(len(paths))]
    assert (cache.get(paths[3]).img == (0, 0, 255)).all()  # BGR red


def test_disk_cache_rewrites_an_array_cut_short(tmp_path, data_root):
    """An array the index calls current but that lost its tail (a power cut
    after the rename) or its header is written again, not read."""
    dataset = build_train_dataset(tmp_path, data_root)
    attach_image_cache(dataset, 'disk', MOSAIC_SCALE)
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    arrays = [disk_cache_file(p, (64, 64)) for p in paths]
    whole = [np.load(a) for a in arrays]
    with open(arrays[2], 'r+b') as f:
        f.truncate(os.path.getsize(arrays[2]) - 10)
    Path(arrays[5]).write_bytes(Path(arrays[5]).read_bytes()[:20])
    written = [os.stat(a).st_mtime_ns for a in arrays]
    cache = attach_image_cache(dataset, 'disk', MOSAIC_SCALE)
    rewritten = [os.stat(a).st_mtime_ns != w for a, w in zip(arrays, written)]
    assert rewritten == [i in (2, 5) for i in range(len(paths))]
    for path, array in zip(paths, whole):
        assert np.array_equal(cache.get(path).img, array)


def test_ram_cache_is_shared_with_workers(tmp_path, data_root):
    dataset = build_train_dataset(tmp_path, data_root)
    cache = attach_image_cache(dataset, 'ram', MOSAIC_SCALE)

    class WriteIntoCache(torch.utils.data.Dataset):

        def __len__(self):
            return 2

        def __getitem__(self, i):
            # a copy per worker would keep this write to itself
            cache.buffer[i] = 200 + i
            return i

    loader = torch.utils.data.DataLoader(
        WriteIntoCache(), num_workers=2,
        multiprocessing_context='fork')
    assert sorted(int(i) for i in loader) == [0, 1]
    assert cache.buffer[:2].tolist() == [200, 201]


def test_ram_cache_refused_when_memory_is_short():
    with pytest.raises(InputError, match='not enough free memory'):
        ImageCache.build('ram', ['a.png'], [(10**6, 10**6)], None,
                         decode=lambda path: None, progress=False)


def test_training_skips_an_image_truncated_mid_run(tmp_path, data_root,
                                                   monkeypatch):
    """A hook truncates one image after the first epoch; the second epoch's workers
    meet it, skip it with a warning naming it, and training finishes."""
    victim = data_root / 'images' / 'train_002.png'
    (tmp_path / 'truncate_after_first_epoch.py').write_text(f'''
from mmengine.hooks import Hook
from mmyolo.registry import HOOKS


@HOOKS.register_module()
class TruncateImage(Hook):
    def after_train_epoch(self, runner):
        if runner.epoch == 0:
            data = open({str(victim)!r}, 'rb').read()
            open({str(victim)!r}, 'wb').write(data[:len(data) // 2])
''')
    config = write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=2)
    with open(config, 'a') as f:
        f.write("custom_imports = dict(imports=['parkdet_mm', "
                "'truncate_after_first_epoch'], allow_failed_imports=False)\n"
                "extra_hooks = [dict(type='TruncateImage')]\n"
                "train_num_workers = 1\n")
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get('PYTHONPATH')])))
    result = run_tool(['tools/train.py', str(config), '--work-dir',
                       str(tmp_path / 'work')])
    log = result.stdout + result.stderr
    assert (tmp_path / 'work' / 'epoch_2.pth').is_file()
    assert f'skipped unreadable training image {victim}' in log
    assert 'epoch 2: skipped' in log and 'epoch 1: skipped' not in log


def test_the_cache_size_is_the_training_size_rule(tmp_path, data_root):
    """One rule from the primaries: images are cached at img_scale when every
    sample is a mosaic, at their file's size when some are letterboxed, for the
    hook (as the derivation gives it) and for training_size alike."""
    assert training_size((640, 480), 1.0) == TrainingSize(640, (640, 480))
    assert training_size((480, 640), 0.5) == TrainingSize(640, None)
    assert training_size((320, 320), 0.0) == TrainingSize(320, None)
    config = write_tiny_config(tmp_path / 'tiny.py', data_root)
    for mosaic_prob, scale in ((1.0, MOSAIC_SCALE), (0.5, None), (0.0, None)):
        cfg = load_config(str(config), dict(mosaic_prob=mosaic_prob))
        hook = cfg.default_hooks.image_cache
        assert (None if hook.scale is None else tuple(hook.scale)) == scale
        assert cfg.default_hooks.auto_anchor.img_size == 64
        assert config_training_size(cfg) == (64, scale)


def test_train_cache_flag_builds_the_cache(tmp_path, data_root):
    config = write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=1)
    result = run_tool(['tools/train.py', str(config), '--work-dir',
                       str(tmp_path / 'work'), '--cache', 'disk'])
    log = result.stdout + result.stderr
    assert 'image cache (disk): 10 of 10 training images cached' in log
    assert (data_root / 'images' / '.image_cache' / '64x64' /
            'train_000.png.npy').is_file()
