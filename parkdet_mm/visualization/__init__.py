"""Pictures: validation diagnostics, training curves and batches (matplotlib, no
display), and the experiment loggers that receive them."""
from .loggers import LOGGERS, logger_backends, send_pictures

__all__ = ['LOGGERS', 'send_pictures', 'logger_backends']
