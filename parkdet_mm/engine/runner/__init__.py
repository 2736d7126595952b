from .formula_runner import FormulaRunner

__all__ = ['FormulaRunner']
