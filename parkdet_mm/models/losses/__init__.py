from .smoothed_cross_entropy_loss import SmoothedCrossEntropyLoss

__all__ = ['SmoothedCrossEntropyLoss']
