from .atomic_dump_det_results import AtomicDumpDetResults
from .challenge_metric import ChallengeSubmissionMetric

__all__ = ['AtomicDumpDetResults', 'ChallengeSubmissionMetric']
