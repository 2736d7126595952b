"""Submission records (docs/reference.md section 8), the exact size cap, atomic writing
and the cap CLI."""
import json
import logging
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from parkdet_challenge import submission as sub
from parkdet_challenge.submission import (
    CapResult,
    SubmissionError,
    cap_records,
    check_records,
    image_records,
    make_record,
    recap_file,
    serialize,
    write_submission,
)

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / 'tools' / 'cap_submission.py'


# --- records -------------------------------------------------------------------------

def test_record_has_spec_keys_order_rounding_and_xywh():
    rec = make_record(np.int64(7), 5, np.array([10.04, 20.06, 110.55, 70.16],
                                               dtype=np.float32), 0.123456)
    assert list(rec) == ['image_id', 'category_id', 'bbox', 'score', 'segmentation']
    # w and h come from the unrounded corners: 110.55 - 10.04 = 100.51 -> 100.5.
    assert rec == {'image_id': 7, 'category_id': 5, 'bbox': [10.0, 20.1, 100.5, 50.1],
                   'score': 0.1235, 'segmentation': []}
    assert type(rec['image_id']) is int
    assert json.dumps(rec) == ('{"image_id": 7, "category_id": 5, "bbox": [10.0, '
                               '20.1, 100.5, 50.1], "score": 0.1235, '
                               '"segmentation": []}')


def test_rounding_prints_shortest_decimals():
    rec = make_record(1, 1, [0.1 + 0.2, 1 / 3, 2.0 + 1 / 3, 1.0], 2 / 3)
    text = json.dumps(rec)
    assert '"bbox": [0.3, 0.3, 2.0, 0.7]' in text and '"score": 0.6667' in text


def test_image_records_map_arrays_and_reject_bad_input():
    recs = image_records(3, [[0, 0, 10, 20], [5, 5, 6, 7]], [0.9, 0.25],
                         np.array([1, 14]))
    assert [r['category_id'] for r in recs] == [1, 14]
    assert [r['bbox'] for r in recs] == [[0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 1.0, 2.0]]
    assert image_records(3, np.zeros((0, 4)), [], []) == []
    with pytest.raises(ValueError, match='2 boxes, 1 scores'):
        image_records(3, [[0, 0, 1, 1], [0, 0, 1, 1]], [0.5], [1, 1])
    with pytest.raises(ValueError, match='non-finite'):
        image_records(3, [[0, 0, float('nan'), 1]], [0.5], [1])
    with pytest.raises(ValueError, match='category_id'):
        image_records(3, [[0, 0, 1, 1]], [0.5], [15])
    with pytest.raises(TypeError, match='image_id'):
        image_records(1.5, [[0, 0, 1, 1]], [0.5], [1])


def test_serialize_is_default_json_dumps_and_joins_record_texts():
    recs = _random_records(random.Random(0), 30)
    text = serialize(recs)
    assert text == json.dumps(recs)
    assert text == '[' + ', '.join(json.dumps(r) for r in recs) + ']'
    with pytest.raises(ValueError):
        serialize([dict(recs[0], score=float('inf'))])


# --- the cap against a brute force over every cut-off --------------------------------

def _random_records(rng: random.Random, n: int):
    """Records with many ties and very different lengths (ids, decimals, classes)."""
    scores = [round(rng.random(), 4) for _ in range(max(1, n // 4))]
    recs = []
    for _ in range(n):
        image_id = rng.choice([rng.randrange(10), rng.randrange(10 ** 15),
                               'x' * rng.randrange(1, 40), 'a"segmentation": []}'])
        x, y = rng.uniform(0, 2000), rng.uniform(0, 1000)
        box = [x, y, x + rng.choice([1, rng.uniform(1, 900)]), y + rng.uniform(1, 500)]
        recs.append(make_record(image_id, rng.randint(1, 14), box, rng.choice(scores)))
    return recs


def _brute_force(recs, max_bytes):
    """The largest 'score >= cut-off' set whose json.dumps is < max_bytes bytes."""
    ranked = sorted(recs, key=lambda r: r['score'], reverse=True)  # stable
    for cutoff in sorted({r['score'] for r in recs}):
        kept = [r for r in ranked if r['score'] >= cutoff]
        if len(json.dumps(kept)) < max_bytes:
            return kept  # cut-offs ascend: the first that fits keeps the most
    return []


@pytest.mark.parametrize('seed', range(60))
def test_cap_matches_brute_force(seed):
    rng = random.Random(seed)
    recs = _random_records(rng, rng.randrange(1, 60))
    full = len(json.dumps(recs))
    for max_bytes in [rng.randrange(3, full + 20) for _ in range(8)] + [full, full + 1]:
        expected = _brute_force(recs, max_bytes)
        text, result = cap_records(recs, max_bytes)
        assert text == json.dumps(expected)
        assert len(text) < max_bytes
        assert result == CapResult(expected[-1]['score'] if expected else None,
                                   len(expected), len(recs), len(text), max_bytes)


def test_cap_bound_is_strict_and_ties_go_together():
    recs = [make_record(1, 1, [0, 0, 1, 1], s) for s in (0.9, 0.5, 0.5, 0.1)]
    whole = len(json.dumps(recs))
    assert cap_records(recs, whole + 1)[1].kept == 4
    assert cap_records(recs, whole)[1].kept == 3  # exactly the cap: too big
    top3 = len(json.dumps(recs[:3]))
    # Room for 0.9 and one 0.5 but not both 0.5s: both 0.5s go.
    text, result = cap_records(recs, top3)
    assert json.loads(text) == recs[:1] and result.cutoff == 0.9


def test_cap_refuses_records_not_in_submission_form():
    rec = make_record(1, 1, [0, 0, 1, 1], 0.5)
    with pytest.raises(ValueError, match='check_records'):
        cap_records([rec, {k: rec[k] for k in reversed(sub.RECORD_KEYS)}])


def test_cap_output_is_sorted_by_score_descending_ties_in_input_order():
    recs = [make_record(i, 1, [0, 0, 1, 1], s)
            for i, s in enumerate([0.2, 0.7, 0.2, 0.9, 0.7])]
    text, _ = cap_records(recs)
    assert [r['image_id'] for r in json.loads(text)] == [3, 1, 4, 0, 2]


def test_cap_empty_input_and_nothing_fits(caplog):
    with caplog.at_level(logging.WARNING, logger='parkdet_challenge.submission'):
        assert cap_records([], 3) == ('[]', CapResult(None, 0, 0, 2, 3))
        assert not caplog.records
        recs = [make_record(1, 1, [0, 0, 1, 1], 0.5)] * 2
        one = len(json.dumps(recs[:1]))
        # One record would fit, but it is tied with the other: neither is kept.
        assert cap_records(recs, one + 1) == ('[]', CapResult(None, 0, 2, 2, one + 1))
    assert 'no record fits' in caplog.text
    with pytest.raises(ValueError, match='max_bytes'):
        cap_records(recs, 2)


# --- checking loaded records ---------------------------------------------------------

def _mutations(rec):
    yield 'not a dict', [rec]
    yield 'missing', {k: v for k, v in rec.items() if k != 'score'}
    yield 'extra', dict(rec, area=1)
    yield 'reordered', {k: rec[k] for k in reversed(sub.RECORD_KEYS)}
    for key, bad in [('image_id', 1.5), ('image_id', True), ('image_id', None),
                     ('category_id', 0), ('category_id', 15), ('category_id', True),
                     ('category_id', 1.0), ('bbox', [1, 2, 3]), ('bbox', (1, 2, 3, 4)),
                     ('bbox', [1, 2, 3, '4']), ('bbox', [1, 2, 3, float('nan')]),
                     ('bbox', [1, 2, 3, 10 ** 400]), ('score', '0.5'),
                     ('score', float('inf')), ('score', False), ('segmentation', [1]),
                     ('segmentation', {}), ('segmentation', None)]:
        yield f'{key}={bad!r}', dict(rec, **{key: bad})


def test_check_records_fast_and_slow_paths_agree():
    recs = _random_records(random.Random(1), 20)
    assert check_records(recs) is recs  # already canonical: no copy
    for name, bad in _mutations(recs[0]):
        data = recs[:5] + [bad] + recs[5:]
        try:
            slow = [sub._check_record(i, r) for i, r in enumerate(data)]
        except SubmissionError:
            slow = None
        if slow is None:
            with pytest.raises(SubmissionError, match='record 5: '):
                check_records(data)
        else:  # reordered keys, a huge int: accepted, keys put in order
            assert check_records(data) == slow, name
            assert all(list(r) == list(sub.RECORD_KEYS) for r in check_records(data))
        assert not (sub._all_canonical(data) and slow is None), name


def test_check_records_messages():
    with pytest.raises(SubmissionError, match='expected a JSON list of records, got '
                       'dict'):
        check_records({'a': 1})
    with pytest.raises(SubmissionError, match='record 0: missing key'):
        check_records([{'image_id': 1}])
    assert check_records([]) == []


# --- atomic writing ------------------------------------------------------------------

def _write_previous(path: Path) -> bytes:
    path.write_text('[{"previous": 1}]')
    return path.read_bytes()


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith('.tmp'))


@pytest.mark.parametrize('fail_at', ['write', 'replace'])
def test_failed_write_keeps_previous_file_and_no_temp(tmp_path, monkeypatch, fail_at):
    out = tmp_path / 'submission.json'
    before = _write_previous(out)
    recs = _random_records(random.Random(2), 50)

    def boom(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    if fail_at == 'write':
        # The data is half on disk when the flush to disk fails.
        monkeypatch.setattr(os, 'fsync', boom)
    else:
        monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError):
        write_submission(out, recs)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert _leftovers(tmp_path) == []
    write_submission(out, recs)
    assert out.read_text() == cap_records(recs)[0]


def test_killed_while_writing_leaves_previous_file(tmp_path):
    out = tmp_path / 'submission.json'
    before = _write_previous(out)
    src = tmp_path / 'preds.json'
    src.write_text(json.dumps(_random_records(random.Random(3), 50)))
    # The process dies (SIGKILL: no clean-up runs) once the new data is written but
    # before the rename.
    script = textwrap.dedent(f"""
        import os, signal
        from parkdet_challenge.submission import recap_file
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        recap_file({str(src)!r}, {str(out)!r})
    """)
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO)
    assert proc.returncode == -9
    assert out.read_bytes() == before


def test_recap_file_round_trip(tmp_path):
    recs = _random_records(random.Random(4), 40)
    src, out = tmp_path / 'preds.json', tmp_path / 'new' / 'submission.json'
    src.write_text(json.dumps(recs))
    result = recap_file(src, out, 2000)
    assert out.read_text() == cap_records(recs, 2000)[0]
    assert result.size_bytes == out.stat().st_size < 2000


# --- the command line ----------------------------------------------------------------

def _run_cli(*args):
    return subprocess.run([sys.executable, str(CLI), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


BAD_INPUTS = {
    'missing file': None,
    'not json': '[{"image_id": 1,',
    'not utf-8': b'\xff\xfe[]',
    'not a list': '{"images": []}',
    'not records': '[1, 2]',
    'missing key': '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]',
    'wrong type': ('[{"image_id": 1, "category_id": "1", "bbox": [0, 0, 1, 1], '
                   '"score": 0.5, "segmentation": []}]'),
    'short bbox': ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], '
                   '"score": 0.5, "segmentation": []}]'),
    'NaN score': ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], '
                  '"score": NaN, "segmentation": []}]'),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
@pytest.mark.parametrize('out_exists', [False, True])
def test_cli_bad_input_is_one_line_and_out_untouched(tmp_path, case, out_exists):
    src, out = tmp_path / 'in.json', tmp_path / 'out.json'
    content = BAD_INPUTS[case]
    if isinstance(content, str):
        src.write_text(content)
    elif content is not None:
        src.write_bytes(content)
    before = _write_previous(out) if out_exists else None
    proc = _run_cli(src, out)
    assert proc.returncode == 2
    assert proc.stdout == ''
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    assert str(src) in lines[0]
    assert (out.read_bytes() if out.exists() else None) == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize('args', [['--max-bytes', 'many'], ['--max-bytes', '2'],
                                  ['--frobnicate'], []])
def test_cli_bad_arguments_are_one_line(tmp_path, args):
    src = tmp_path / 'in.json'
    src.write_text('[]')
    proc = _run_cli(*([src, tmp_path / 'out.json'] if args else [src]), *args)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith('error: ') and 'Traceback' not in proc.stderr
    assert not (tmp_path / 'out.json').exists()


def test_cli_caps_and_reports(tmp_path):
    recs = _random_records(random.Random(5), 200)
    src, out = tmp_path / 'in.json', tmp_path / 'out.json'
    src.write_text(json.dumps(recs))
    text, result = cap_records(recs, 5000)
    proc = _run_cli(src, out, '--max-bytes', 5000)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == text and 0 < result.kept < len(recs)
    assert proc.stdout.strip() == f'{out}: {result.summary()}'


def test_cli_nothing_fits_writes_empty_list_and_warns(tmp_path):
    src, out = tmp_path / 'in.json', tmp_path / 'out.json'
    src.write_text(json.dumps([make_record(1, 1, [0, 0, 1, 1], 0.5)]))
    proc = _run_cli(src, out, '--max-bytes', 20)
    assert proc.returncode == 0 and out.read_text() == '[]'
    assert 'warning: no record fits' in proc.stderr


def test_submission_module_imports_no_torch():
    code = ('import sys, parkdet_challenge.submission; '
            'assert not {"torch", "mmengine", "mmdet", "cv2"} & set(sys.modules)')
    subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True)
