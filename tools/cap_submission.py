"""Re-cap an existing prediction file to the submission size limit, without inference.

    python tools/cap_submission.py preds.json submission.json [--max-bytes 20000000]

Keeps the records scoring at or above the lowest cut-off whose file is strictly
smaller than the cap (ties on the cut-off score kept or dropped together), sorted by
score descending, and writes OUT atomically: OUT keeps its previous content unless the
new file is complete. Bad input is one ``error:`` line on stderr, exit status 2, and
OUT untouched. Prints the cut-off, kept/total records and the file size.
"""
import argparse
import logging
import os
from typing import List, NoReturn, Optional

from parkdet_challenge.errors import InputError, run_cli
from parkdet_challenge.submission import MAX_BYTES, SubmissionError, recap_file


class _Parser(argparse.ArgumentParser):
    # A wrong flag is input to fix like any other: one line, not usage + line.
    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def main(argv: Optional[List[str]] = None) -> None:
    """Parse ``argv`` and re-cap IN into OUT; raises InputError on bad input."""
    parser = _Parser(description=__doc__.split('\n\n')[0])
    parser.add_argument('input', help='prediction/submission JSON to cap')
    parser.add_argument('output', help='capped submission to write')
    parser.add_argument('--max-bytes', type=int, default=MAX_BYTES,
                        help='the file must be strictly smaller than this '
                        f'(default {MAX_BYTES})')
    args = parser.parse_args(argv)
    if args.max_bytes <= 2:
        raise InputError(f'--max-bytes must exceed 2 (the size of "[]"), '
                         f'got {args.max_bytes}')
    if os.path.isdir(args.output):
        raise InputError(f'{args.output}: is a directory, expected a file path')
    # The library warns through logging when nothing fits; show it, one line.
    logging.basicConfig(format='warning: %(message)s', level=logging.WARNING)
    try:
        result = recap_file(args.input, args.output, args.max_bytes)
    except SubmissionError as err:
        raise InputError(str(err)) from None
    except OSError as err:
        raise InputError(f'{err.filename}: {err.strerror}' if err.filename
                         else str(err)) from None
    print(f'{args.output}: {result.summary()}')


if __name__ == '__main__':
    run_cli(main)
