from .class_balance_hook import ClassBalanceHook

__all__ = ['ClassBalanceHook']
