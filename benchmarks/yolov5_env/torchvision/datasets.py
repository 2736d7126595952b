from ._unused import Unused as ImageFolder  # noqa: F401  (classification only)
