"""Pictures: validation diagnostics, training curves and batches (matplotlib, no
display), and the experiment loggers that receive them."""
from .loggers import LOGGERS, send_pictures, vis_backends

__all__ = ['LOGGERS', 'send_pictures', 'vis_backends']
