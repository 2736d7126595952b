from .._unused import Unused


def __getattr__(name: str):
    return Unused
