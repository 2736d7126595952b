class Version:
    """Stand-in (imported by YOLOv5, never used offline)."""
