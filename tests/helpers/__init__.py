"""Set-ups and reference code that several tests share (no tests here)."""
