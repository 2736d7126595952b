from .challenge_metric import ChallengeSubmissionMetric

__all__ = ['ChallengeSubmissionMetric']
