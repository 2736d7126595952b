from .._unused import Unused
from . import functional  # noqa: F401


def __getattr__(name: str):
    return Unused
