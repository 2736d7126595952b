from . import metrics  # noqa: F401
from .submission_writer import SubmissionWriter

__all__ = ['SubmissionWriter']
