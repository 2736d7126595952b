"""What every parkdet command line shares: bad input is one line, not a traceback."""
import sys
from typing import Callable


class InputError(Exception):
    """Input the user has to fix (a missing file, a malformed JSON, a wrong flag).

    Command-line tools print it as one line and exit with status 2.
    """


def run_cli(main: Callable[[], object]) -> None:
    """Run ``main``; an :class:`InputError` ends the process with one line, status 2."""
    try:
        main()
    except InputError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
