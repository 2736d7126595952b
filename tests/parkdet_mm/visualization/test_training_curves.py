"""Training curves from MMEngine's scalar logs: several runs of one work dir merged,
the PNG drawn by tools/plot_results.py (the end-of-training hook is exercised by
test_data_root's training run)."""
import json

import numpy as np
import pytest
from conftest import assert_one_line_error, pixel_of, png_pixels, run_tool
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


def test_plot_has_a_panel_per_curve(resumed_work_dir, tmp_path, saved_figures):
    out = plot_training_curves(str(resumed_work_dir))
    assert out == str(resumed_work_dir / 'results.png')
    # 4 losses + lr + mAP, mAP_50, P (no per-class AP): 8 panels in 5 columns,
    # each drawing its merged series (the resumed run's values where it redid).
    (figure, ) = saved_figures
    panels = figure.axes
    assert [ax.get_title() for ax in panels] == [
        'loss', 'loss_bbox', 'loss_cls', 'loss_obj', 'lr', 'challenge/mAP',
        'challenge/mAP_50', 'challenge/P']
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in panels] == [(2, 5)] * 8
    train_steps = list(range(1, 13))
    losses = [10.0] * 6 + [5.0] * 6
    expected = [(train_steps, [v * share for v in losses])
                for share in (1, 1 / 4, 1 / 2, 1 / 4)]
    expected.append((train_steps, [0.01 * s for s in train_steps]))
    expected += [([1, 2, 3, 4], [0.1, 0.2, 0.33, 0.4])] * 3
    for ax, (x, y) in zip(panels, expected):
        (line, ) = ax.get_lines()
        assert line.get_xdata().tolist() == x, ax.get_title()
        assert line.get_ydata().tolist() == pytest.approx(y), ax.get_title()
    with Image.open(out) as image:
        assert image.size == (1800, 600)
    # Read back: each panel's line is in the PNG where its axes put each point.
    pixels = png_pixels(out)
    blue = np.array([31, 119, 180])  # matplotlib's first line colour
    for ax, (x, y) in zip(panels, expected):
        for point in ((x[0], y[0]), (x[-1], y[-1])):
            row, column = pixel_of(ax, *point, height=600)
            patch = pixels[row - 2:row + 3, column - 2:column + 3].reshape(-1, 3)
            assert (np.abs(patch.astype(int) - blue).sum(1) < 60).any(), \
                (ax.get_title(), point)
    assert (pixels[5:25, 5:25] == 255).all()  # the margin is blank
    other = tmp_path / 'other.png'
    assert plot_training_curves(str(resumed_work_dir), str(other)) == str(other)
    assert (png_pixels(other) == pixels).all()


def test_not_a_work_dir(tmp_path):
    with pytest.raises(InputError, match='does not exist'):
        read_scalars(str(tmp_path / 'none'))
    with pytest.raises(InputError, match='no MMEngine scalar log'):
        read_scalars(str(tmp_path))


def test_plot_results_tool(resumed_work_dir, tmp_path):
    proc = run_tool(['tools/plot_results.py', str(resumed_work_dir), '--out',
                     str(tmp_path / 'curves.png')])
    assert 'curves.png' in proc.stdout
    # the very picture the library draws (checked above)
    drawn = plot_training_curves(str(resumed_work_dir), str(tmp_path / 'drawn.png'))
    assert (png_pixels(tmp_path / 'curves.png') == png_pixels(drawn)).all()
    proc = run_tool(['tools/plot_results.py', str(tmp_path / 'missing')], check=False)
    assert_one_line_error(proc, 'missing')
    assert not (tmp_path / 'missing').exists()
