"""A torchvision name YOLOv5 builds at import time but never runs for detection."""


class _UnusedMeta(type):

    def __getattr__(cls, name: str):
        return cls


class Unused(metaclass=_UnusedMeta):
    """Builds (and any attribute is itself), refuses to run."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError('torchvision stand-in: only NMS is available')
