"""parkdet_mm: the 2nd-place parking-object detection recipe on MMYOLO.

Importing the package (configs do it with ``custom_imports``) registers its samplers,
hooks and metrics into MMYOLO's registries and makes mmengine checkpoints loadable under
torch's ``weights_only=True``. Python imports a module once, so importing again
registers nothing twice.
"""
import warnings

# mmengine still imports pkg_resources (to resolve `mmyolo::` config paths); its
# deprecation notice says nothing a user of this project can act on, and it would
# otherwise precede every tool's output, one-line errors included.
warnings.filterwarnings(
    'ignore', message='pkg_resources is deprecated', category=UserWarning)

# (registers modules)
from . import (  # noqa: E402,F401
    apis,
    config,
    converters,
    datasets,
    deploy,
    engine,
    evaluation,
    models,
    visualization,
)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
