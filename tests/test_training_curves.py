"""Training curves from MMEngine's scalar logs: several runs of one work dir merged,
the PNG drawn by tools/plot_results.py (the end-of-training hook is exercised by
test_data_root's training run)."""
import json

import pytest
from conftest import assert_one_line_error, run_tool
from PIL import Image

from parkdet_challenge.errors import InputError
from parkdet_mm.visualization.training_curves import plot_training_curves, read_scalars

ITERS_PER_EPOCH = 3


def _train_line(step, loss):
    return dict(lr=0.01 * step, loss=loss, loss_cls=loss / 2, loss_bbox=loss / 4,
                loss_obj=loss / 4, time=0.1, data_time=0.01,
                epoch=(step - 1) // ITERS_PER_EPOCH + 1, iter=step, step=step)


def _val_line(epoch, value):
    return {'challenge/mAP': value, 'challenge/mAP_50': value, 'challenge/P': value,
            'challenge/sedan_AP': value, 'time': 0.1, 'step': epoch}


def _write_run(work_dir, stamp, lines, torn_tail=False):
    folder = work_dir / stamp / 'vis_data'
    folder.mkdir(parents=True)
    text = ''.join(json.dumps(line) + '\n' for line in lines)
    if torn_tail:
        text += '{"lr": 0.0'  # the process was killed while writing
    (folder / 'scalars.json').write_text(text)


@pytest.fixture
def resumed_work_dir(tmp_path):
    """Epochs 1-3 with validations after 1, 2 and 3, killed in epoch 3 after its
    checkpoint 2; resumed from epoch 2 to epoch 4."""
    work = tmp_path / 'work'
    first = [_train_line(s, 10.0) for s in range(1, 9)]
    first.insert(3, _val_line(1, 0.1))
    first.insert(7, _val_line(2, 0.2))
    first.append(_val_line(3, 0.3))
    _write_run(work, '20260101_000000', first, torn_tail=True)
    second = [_train_line(s, 5.0) for s in range(7, 13)]
    second.insert(3, _val_line(3, 0.33))
    second.append(_val_line(4, 0.4))
    _write_run(work, '20260101_010000', second)
    (work / '20260101_020000').mkdir()  # a test run: no scalars
    return work


def test_a_resumed_run_replaces_what_it_redid(resumed_work_dir):
    train, val = read_scalars(str(resumed_work_dir))
    assert [r['step'] for r in train] == list(range(1, 13))
    assert [r['loss'] for r in train] == [10.0] * 6 + [5.0] * 6
    assert [(r['step'], r['challenge/mAP']) for r in val] == \
        [(1, 0.1), (2, 0.2), (3, 0.33), (4, 0.4)]


def test_plot_has_a_panel_per_curve(resumed_work_dir, tmp_path):
    out = plot_training_curves(str(resumed_work_dir))
    assert out == str(resumed_work_dir / 'results.png')
    # 4 losses + lr + mAP, mAP_50, P (no per-class AP): 8 panels in 5 columns.
    with Image.open(out) as image:
        assert image.size == (1800, 600)
    other = tmp_path / 'other.png'
    assert plot_training_curves(str(resumed_work_dir), str(other)) == str(other)
    assert other.stat().st_size > 1000


def test_not_a_work_dir(tmp_path):
    with pytest.raises(InputError, match='does not exist'):
        read_scalars(str(tmp_path / 'none'))
    with pytest.raises(InputError, match='no MMEngine scalar log'):
        read_scalars(str(tmp_path))


def test_plot_results_tool(resumed_work_dir, tmp_path):
    proc = run_tool(['tools/plot_results.py', str(resumed_work_dir), '--out',
                     str(tmp_path / 'curves.png')])
    assert (tmp_path / 'curves.png').is_file()
    assert 'curves.png' in proc.stdout
    proc = run_tool(['tools/plot_results.py', str(tmp_path / 'missing')], check=False)
    assert_one_line_error(proc, 'missing')
    assert not (tmp_path / 'missing').exists()
