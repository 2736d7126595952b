"""Every command README.md and docs/*.md show runs as written (issue 26).

tests/doc_commands.py collects them (mktestdocs for the fenced bash blocks) and
checks each against the repository: the tool exists, its parser knows every flag
shown, a command without placeholders parses, the paths it names exist. The cheap
ones (:data:`CHEAP`) also run, on demo-sized data, with shrink flags added.
docs/development.md says how a new doc command gets checked.
"""
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_tool
from doc_commands import (
    DOCS,
    doc_commands,
    doc_path_spans,
    missing_paths,
    problems,
    runnable_commands,
)

#: Tools whose concrete doc commands run here, with the flags that shrink them
#: (added unless the command sets them itself).
CHEAP = {
    'tools/make_demo_data.py': ['--train', '24', '--test', '4'],
    'tools/prepare_data.py': ['--val-size', '4', '--no-plot'],
    'tools/cap_submission.py': [],
}


def doc_problems(doc: Path):
    found = [problem for command in doc_commands(doc)
             for problem in problems(command)]
    found += [f'{span}: {path} does not exist' for span in doc_path_spans(doc)
              for path in missing_paths(span.text.split())]
    return list(dict.fromkeys(found))  # a span that is a command: named once


@pytest.mark.parametrize('doc', DOCS, ids=lambda doc: doc.name)
def test_every_command_names_real_tools_flags_and_files(doc):
    found = doc_problems(doc)
    assert not found, '\n'.join(found)


def test_the_check_finds_what_does_not_exist(tmp_path):
    """A planted document: each kind of mistake is found, naming its line, and
    the good commands pass."""
    doc = tmp_path / 'planted.md'
    doc.write_text('''# Planted

```bash
python tools/train.py configs/baseline.py --epochs 1 --img-size 256
python tools/train.py configs/baseline.py --epoch 1
python tools/tran.py configs/baseline.py
python tools/train.py configs/no_such.py --epochs 1
bash tools/train_pipeline.sh 2021 --data-root DATA --no-such-flag
python tools/benchmark.py --batch-size 4
python tools/predict.py [--tta/--no-tta] [--max-bites N]
make demo && make no-such-target
```

Run `python tools/cap_submission.py IN OUT --max-bytes N`, see `configs/gone.py`, or

    python tools/check_anchors.py configs/baseline.py --seeed 0
''')
    found = doc_problems(doc)
    expected = [
        f'{doc}:5: python tools/train.py configs/baseline.py --epoch 1: '
        'tools/train.py has no flag --epoch',
        f'{doc}:6: python tools/tran.py configs/baseline.py: tools/tran.py does '
        'not exist',
        f'{doc}:7: python tools/train.py configs/no_such.py --epochs 1: '
        'configs/no_such.py does not exist',
        f'{doc}:8: bash tools/train_pipeline.sh 2021 --data-root DATA '
        '--no-such-flag: tools/train.py has no flag --no-such-flag',
        f'{doc}:9: python tools/benchmark.py --batch-size 4: tools/benchmark.py '
        'refuses it: the following arguments are required: config',
        f'{doc}:10: python tools/predict.py [--tta/--no-tta] [--max-bites N]: '
        'tools/predict.py has no flag --max-bites',
        f'{doc}:11: make demo && make no-such-target: make has no target '
        'no-such-target',
        f'{doc}:16: python tools/check_anchors.py configs/baseline.py --seeed 0: '
        'tools/check_anchors.py has no flag --seeed',
        f'{doc}:14: configs/gone.py: configs/gone.py does not exist',
    ]
    assert sorted(found) == sorted(expected)


def write_records(path: Path, count: int) -> None:
    """A predictions file of ``count`` challenge records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([
        dict(image_id=i % 7, category_id=1 + i % 14,
             bbox=[1.5 * i, 2.0, 30.0, 40.5], score=round(1 - i / count, 4),
             segmentation=[]) for i in range(count)]))


def test_cheap_commands_run_on_demo_data(tmp_path):
    """Each concrete command of a :data:`CHEAP` tool runs: absolute paths are
    moved below a scratch folder, the data it reads is a small demo set in the
    challenge's layout (or a predictions file), the shrink flags are added."""
    demo = tmp_path / 'demo'
    run_tool(['tools/make_demo_data.py', str(demo), '--train', '24', '--test', '4'])
    ran = []
    for doc in DOCS:
        for command in doc_commands(doc):
            for tool, args in runnable_commands(command):
                if tool not in CHEAP:
                    continue
                scratch = tmp_path / f'run{len(ran)}'
                scratch.mkdir()
                args = [str(scratch) + arg if arg.startswith('/') else arg
                        for arg in args]
                if tool == 'tools/prepare_data.py':
                    shutil.copytree(demo, scratch / args[args.index('--data-root')
                                                         + 1])
                if tool == 'tools/cap_submission.py':
                    write_records(scratch / args[0], 50)
                shrink = [flag for i, flag in enumerate(CHEAP[tool])
                          if not any(a in args for a in CHEAP[tool][i - i % 2:i + 1]
                                     if a.startswith('--'))]
                proc = run_tool([str(REPO / tool), *args, *shrink], cwd=scratch,
                                check=False)
                assert proc.returncode == 0, (
                    f'{command} (run as {tool} {args + shrink}) exited '
                    f'{proc.returncode}:\n{proc.stderr[-2000:]}')
                ran.append(tool)
    assert set(ran) == set(CHEAP), ran  # README's prepare_data among them
