"""The errors a user sees as one line (bad input, a run stopped on purpose) and
:func:`run_cli`, which every command line runs its main through to print them."""
import sys
from typing import Callable


class InputError(Exception):
    """Input the user has to fix (a missing file, a malformed JSON, a wrong flag).

    Command-line tools print it as one line and exit with status 2.
    """


class RunStopped(Exception):
    """A run that stopped before its end on purpose and left a resumable state
    (training diverged, a signal, a checkpoint that could not be written).

    Command-line tools print it as one line, ``{label}: {message}``, and exit with
    ``status``: 3 unless a subclass or the instance says otherwise.
    """

    label = 'error'
    status = 3


def run_cli(main: Callable[[], object]) -> None:
    """Run ``main``; an :class:`InputError` ends the process with one line, status
    2, a :class:`RunStopped` with one line and its own status."""
    try:
        main()
    except InputError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    except RunStopped as err:
        print(f'{err.label}: {err}', file=sys.stderr)
        sys.exit(err.status)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        sys.exit(130)
