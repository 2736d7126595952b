"""The commands README.md and docs/*.md show, and what checks them.

Collected from each document: every fenced ``bash`` block (through mktestdocs, the
library for testing markdown code blocks: its ``grab_code_blocks``), every inline
code span and every indented code line that starts a command of this repository
(``python tools/...``, ``python benchmarks/...``, ``bash tools/...``, a bare
``tools/...`` script, ``make ...``). A block's commands are split at ``&&``, ``;``,
``|`` and ``&``; a backslash or an indented line continues one. What is checked
(:func:`problems`):

- the script or Makefile target exists;
- every flag shown (``--name``, also inside ``[...]`` and ``a/b|c`` alternatives) is
  an option string of the tool's own argparse parser, captured by running the tool's
  module up to its ``parse_args`` call (nothing after it runs), or, for a shell script
  that forwards its flags, of the Python tool it forwards them to
  (:data:`FORWARDS_FLAGS_TO`);
- a command that runs as written (``python tools/...``, not a bare ``tools/...``
  naming the tool in prose) and has no placeholders (no ``[...]``, ``A|B``, ``...``
  or CAPITALS such as CONFIG, DIR, N) parses: the tool's parser accepts it;
- every path of the repository it names (``configs/``, ``tools/``, ``docs/``, ...,
  with ``{a,b}`` and ``*`` expanded) exists.
"""
import argparse
import contextlib
import glob
import io
import re
import runpy
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import mktestdocs

REPO = Path(__file__).resolve().parents[1]
#: The documents whose commands are checked.
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
#: Shell scripts that pass the flags they are given on to a Python tool.
FORWARDS_FLAGS_TO = {
    'tools/train_pipeline.sh': 'tools/train.py',
    'tools/dist_train.sh': 'tools/train.py',
    'tools/slurm_train.sh': 'tools/train.py',
    'tools/dist_test.sh': 'tools/test.py',
    'tools/slurm_test.sh': 'tools/test.py',
    'tools/dist_predict.sh': 'tools/predict.py',
    'tools/slurm_predict.sh': 'tools/predict.py',
    'tools/slurm_evolve.sh': 'tools/evolve.py',
}
#: Shell scripts whose own arguments are not flags.
SHELL_WITHOUT_FLAGS = {'tools/install_mmcv.sh', 'tools/dist_run.sh',
                       'tools/slurm_run.sh'}
# Where a path of the repository starts.
REPO_PATH = re.compile(r'^(configs|tools|benchmarks|docs|tests|docker|parkdet_mm|'
                       r'parkdet_challenge)/')
# A command of this repository at the start of a code span or line.
STARTS_COMMAND = re.compile(
    r'^(?:[A-Z_]+=\S+\s+)*(?:nice -n \d+\s+)?'
    r'(?:(?:python|python3|\.venv/bin/python)\s+(?:tools|benchmarks)/|bash\s+tools/|'
    r'tools/\S+\.py\b|make\s)')
PLACEHOLDER = re.compile(r'[\[\]|]|\.\.\.|\b[A-Z][A-Z0-9_]*\b')
SEPARATORS = {'&&', '||', '|', ';', '&'}
PYTHONS = {'python', 'python3', '.venv/bin/python'}


@dataclass
class DocCommand:
    """One command a document shows: where, and its text (continuations joined)."""
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f'{self.doc}:{self.line}: {self.text}'


def _name(path: Path) -> str:
    """A document's name: its path in the repository."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _block_commands(block: str) -> Iterator[tuple]:
    """``(command, its first line)`` of each command of a code block: backslash
    continuations joined, an indented line joined to the command before it (a
    synopsis wrapped), blank lines and comments dropped."""
    current = first = ''
    for line in block.replace('\\\n', '\\ ').splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if line[:1].isspace() and current:
            current += ' ' + line.strip()
            continue
        if current:
            yield current.replace('\\ ', ' '), first
        current = first = line.strip()
    if current:
        yield current.replace('\\ ', ' '), first


def _without_fences(text: str) -> str:
    """``text`` with every fenced block blanked (its lines kept, for numbering)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith('```'):
            fenced = not fenced
            out.append('')
        else:
            out.append('' if fenced else line)
    return '\n'.join(out)


def doc_commands(path: Path) -> List[DocCommand]:
    """Every command of this repository that the document at ``path`` shows."""
    text = path.read_text()
    name = _name(path)
    found: List[DocCommand] = []
    cursor = 0  # where the next block's commands are looked for, for their lines
    for block in mktestdocs.grab_code_blocks(text, lang='bash'):
        for command, first in _block_commands(block):
            position = text.find(first.split('\\ ')[0], cursor)
            cursor = max(cursor, position + 1)
            line = text.count('\n', 0, position) + 1 if position >= 0 else 0
            found.append(DocCommand(name, line, ' '.join(command.split())))
    prose = _without_fences(text)
    for match in re.finditer(r'(`+)(.+?)\1', prose, re.DOTALL):
        span = match.group(2)
        if '\n\n' in span:
            continue
        span = ' '.join(span.split())
        if STARTS_COMMAND.match(span):
            found.append(DocCommand(name, prose.count('\n', 0, match.start()) + 1,
                                    span))
    for number, line in enumerate(prose.splitlines(), 1):  # indented code
        if line.startswith('    ') and STARTS_COMMAND.match(line.strip()):
            found.append(DocCommand(name, number, line.strip()))
    return found


def doc_path_spans(path: Path) -> List[DocCommand]:
    """Every inline code span of the document that names a path of the
    repository (``configs/coco/demo.py``, ``parkdet_mm/datasets/``)."""
    prose = _without_fences(path.read_text())
    return [DocCommand(_name(path),
                       prose.count('\n', 0, match.start()) + 1, match.group(2))
            for match in re.finditer(r'(`+)([^`]+?)\1', prose)
            if REPO_PATH.match(match.group(2).strip())]


def simple_commands(command: str) -> List[List[str]]:
    """``command``'s simple commands as token lists (shell separators split it)."""
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError:  # unbalanced quotes
        tokens = command.split()
    commands, current = [], []
    for token in tokens:
        bare = token.rstrip(';&')
        if token in SEPARATORS:
            commands.append(current)
            current = []
        elif bare != token:
            if bare:
                current.append(bare)
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


class _Captured(Exception):

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


_PARSERS: Dict[str, argparse.ArgumentParser] = {}


def tool_parser(script: str) -> argparse.ArgumentParser:
    """The argparse parser of the tool at ``script`` (relative to the repository):
    its module runs as ``__main__`` until it asks the parser to parse."""
    if script not in _PARSERS:

        def capture(parser, args=None, namespace=None):
            raise _Captured(parser)

        patch = contextlib.ExitStack()
        with patch:
            original = argparse.ArgumentParser.parse_known_args
            argparse.ArgumentParser.parse_known_args = capture
            patch.callback(setattr, argparse.ArgumentParser, 'parse_known_args',
                           original)
            saved_argv, sys.argv = sys.argv, [script]
            patch.callback(setattr, sys, 'argv', saved_argv)
            try:
                runpy.run_path(str(REPO / script), run_name='__main__')
            except _Captured as captured:
                _PARSERS[script] = captured.parser
            else:
                raise AssertionError(f'{script} never parsed its arguments')
    return _PARSERS[script]


def option_strings(parser: argparse.ArgumentParser) -> set:
    return {s for action in parser._actions for s in action.option_strings}


def _expand_braces(path: str) -> List[str]:
    match = re.search(r'\{([^{}]*,[^{}]*)\}', path)
    if not match:
        return [path]
    return [expanded for choice in match.group(1).split(',')
            for expanded in _expand_braces(path[:match.start()] + choice
                                           + path[match.end():])]


def missing_paths(tokens: List[str]) -> List[str]:
    """The paths of the repository ``tokens`` name that do not exist."""
    missing = []
    for token in tokens:
        for part in re.split(r'[=\[\]]', token):
            part = part.strip('`\'"()').rstrip('.:,;')
            if not REPO_PATH.match(part) or re.search(r'[A-Z]{2,}|\$|\.\.\.', part):
                continue
            for path in _expand_braces(part):
                if not glob.glob(str(REPO / path)):
                    missing.append(path)
    return missing


def _flags(tokens: List[str]) -> List[str]:
    return [flag for token in tokens
            for flag in re.findall(r'(?<![\w-])--[A-Za-z][\w-]*', token)]


def _make_targets() -> set:
    makefile = (REPO / 'Makefile').read_text()
    return set(re.findall(r'^([\w-]+):', makefile, re.MULTILINE))


def _parse_problem(parser: argparse.ArgumentParser, args: List[str]) -> Optional[str]:
    """Why ``parser`` refuses ``args``, or None."""
    errors = []

    def error(message):
        errors.append(message)
        raise SystemExit(2)

    parser.error = error  # the instance's, over argparse's printing one
    try:
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            return errors[0] if errors else f'exits with status {exit_.code}'
    finally:
        del parser.error
    return None


def _programs(command: DocCommand) -> Iterator[tuple]:
    """``(program, args, runs, tokens)`` of each simple command: the script (or
    ``make``, or another program), its arguments, whether it runs as written
    (``python tools/x.py``, ``bash tools/x.sh``; not a bare ``tools/x.py``
    naming the tool in prose) and all its tokens."""
    for tokens in simple_commands(command.text):
        while tokens and (re.match(r'^[A-Z_]+=', tokens[0])
                          or tokens[0] in ('sudo', 'time', 'env')):
            tokens = tokens[1:]
        if tokens[:1] == ['nice']:
            tokens = tokens[3:] if tokens[1:2] == ['-n'] else tokens[1:]
        if not tokens:
            continue
        program, args = tokens[0], tokens[1:]
        runs = program in PYTHONS or program == 'bash'
        if program in PYTHONS and args and not args[0].startswith(('-', '$')):
            program, args = args[0], args[1:]
        elif program == 'bash' and args:
            program, args = args[0], args[1:]
        yield program, args, runs, tokens


def runnable_commands(command: DocCommand) -> List[tuple]:
    """``(tool, args)`` of each simple command of ``command`` that runs a Python
    tool of the repository as written, without placeholders."""
    return [(program, args) for program, args, runs, _ in _programs(command)
            if runs and program.endswith('.py') and (REPO / program).is_file()
            and not any(PLACEHOLDER.search(a) for a in args)]


def problems(command: DocCommand) -> List[str]:
    """What is wrong with ``command``: one line each, naming it."""
    found = []
    for program, args, runs, tokens in _programs(command):
        found += [f'{command}: {path} does not exist'
                  for path in missing_paths(tokens)]
        if program == 'make':
            targets = _make_targets()
            found += [f'{command}: make has no target {target}' for target in args
                      if not target.startswith('-') and '=' not in target
                      and not PLACEHOLDER.search(target) and target not in targets]
            continue
        if not re.match(r'^(tools|benchmarks)/', program):
            continue  # another program (pip, docker, mlflow ...): not ours
        if not (REPO / program).is_file():
            continue  # missing_paths named it
        if program.endswith('.sh'):
            if program in SHELL_WITHOUT_FLAGS:
                continue
            tool = FORWARDS_FLAGS_TO.get(program)
            if tool is None:
                if _flags(args):
                    found.append(f'{command}: {program} is not in '
                                 'tests/doc_commands.py FORWARDS_FLAGS_TO')
                continue
        else:
            tool = program
        parser = tool_parser(tool)
        known = option_strings(parser)
        unknown = [flag for flag in _flags(args) if flag not in known]
        found += [f'{command}: {tool} has no flag {flag}' for flag in unknown]
        if runs and tool == program and not unknown and not any(
                PLACEHOLDER.search(a) for a in args):
            problem = _parse_problem(parser, args)
            if problem:
                found.append(f'{command}: {tool} refuses it: {problem}')
    return found
