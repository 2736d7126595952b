"""parkdet_mm: the 2nd-place parking-object detection recipe on MMYOLO.

Importing the package (configs do it with ``custom_imports``) registers its samplers,
hooks and metrics into MMYOLO's registries and makes mmengine checkpoints loadable under
torch's ``weights_only=True``. Python imports a module once, so importing again
registers nothing twice.
"""
from . import datasets, engine, evaluation, utils  # noqa: F401  (registers modules)
from .version import __version__

__all__ = ['__version__']
