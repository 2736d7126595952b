"""tools/pseudo_label.py and the pseudo_label_file primary: predictions on the test
images as a COCO training file, trained on only when the primary names it."""
import json
import shutil

import pytest
from conftest import assert_one_line_error, run_tool, write_tiny_config
from mmengine.registry import init_default_scope

from mmyolo.registry import DATASETS
from parkdet_challenge.errors import InputError
from parkdet_mm.config import load_config


def _train_set(config, **primaries):
    init_default_scope('mmyolo')
    cfg = load_config(str(config), primaries)
    return DATASETS.build(cfg.train_dataloader.dataset)


def test_pseudo_labels_are_the_confident_predictions_and_train_when_asked(
        tiny_model, tiny_coco, tmp_path):
    config, checkpoint = tiny_model
    out = tmp_path / 'pseudo.json'
    printed = run_tool(['tools/pseudo_label.py', str(config), str(checkpoint),
                        '--score-thr', '0.28', '--out', str(out)]).stdout
    pseudo = json.loads(out.read_text())
    assert pseudo['info']['pseudo_labels'] is True and pseudo['info']['score_thr'] == 0.28
    # the same boxes as tools/predict.py's records scoring >= 0.28 on the test set
    # (its scores have 4 decimals: those within 1e-4 of 0.28 may go either way)
    run_tool(['tools/predict.py', str(config), str(checkpoint), '--no-tta',
              '--data-root', str(tiny_coco), '--ann-dir', str(tiny_coco / 'annotations'),
              '--out-dir', str(tmp_path / 'predict')])
    records = json.loads((tmp_path / 'predict' / 'preds.json').read_text())
    ours = [(a['image_id'], a['category_id'], a['score'], a['bbox'])
            for a in pseudo['annotations']]
    assert all(score >= 0.28 for _, _, score, _ in ours)
    sure = [r for r in records if r['score'] >= 0.28 + 1e-4]
    maybe = [r for r in records if r['score'] >= 0.28 - 1e-4]
    assert 0 < len(sure) <= len(ours) <= len(maybe) < len(records)  # some, not all
    for r in sure:  # each found among ours
        assert any(a[:2] == (r['image_id'], r['category_id'])
                   and a[2] == pytest.approx(r['score'], abs=1e-4)
                   and a[3] == pytest.approx(r['bbox'], abs=0.06) for a in ours), r
    assert {i['id'] for i in pseudo['images']} == {a[0] for a in ours}
    assert f'pseudo_label_file={out}' in printed

    # the primary adds the pseudo-labelled images to the training set, only then
    plain = _train_set(config)
    with_pseudo = _train_set(config, pseudo_label_file=str(out))
    assert len(plain) == 8 and len(with_pseudo) == 8 + len(pseudo['images'])
    test_paths = {str(tiny_coco / i['file_name']) for i in pseudo['images']}
    assert {with_pseudo.get_data_info(i)['img_path'] for i in range(8, len(with_pseudo))} \
        == test_paths
    assert not test_paths & {plain.get_data_info(i)['img_path'] for i in range(8)}


def test_test_images_reach_training_only_through_the_primary(tiny_coco, tmp_path):
    data = tmp_path / 'data'
    shutil.copytree(tiny_coco, data)
    config = write_tiny_config(tmp_path / 'tiny.py', data, epochs=1)
    annotations = data / 'annotations'
    # pseudo-labels merged into the training file by hand: refused
    train = json.loads((annotations / 'train.json').read_text())
    test = json.loads((annotations / 'test.json').read_text())
    merged = dict(train, images=train['images'] + test['images'][:1])
    (annotations / 'train.json').write_text(json.dumps(merged))
    with pytest.raises(InputError, match='1 test images of .*test.json.*pseudo_label_file'):
        _train_set(config)
    # ... in one line from tools/train.py, before any training
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(tmp_path / 'w')],
                    check=False)
    assert_one_line_error(proc, 'test images', 'pseudo_label_file')
    assert not list((tmp_path / 'w').glob('*.pth'))
    # a pseudo-label file holding validation images: refused
    (annotations / 'train.json').write_text(json.dumps(train))
    val = json.loads((annotations / 'val.json').read_text())
    (annotations / 'pseudo.json').write_text(json.dumps(val))
    with pytest.raises(InputError, match='validation images'):
        _train_set(config, pseudo_label_file='annotations/pseudo.json')
    with pytest.raises(InputError, match='does not exist'):
        _train_set(config, pseudo_label_file='annotations/none.json')
