"""Pictures: validation diagnostics and training curves (matplotlib, no display)."""
