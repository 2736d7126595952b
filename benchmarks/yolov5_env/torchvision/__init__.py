"""Stand-in for torchvision in the scratch YOLOv5 environment of the benchmarks.

PyPI's torchvision does not import on this project's CPU torch; YOLOv5 7.0.14 and
the ultralytics package it imports need torchvision only for NMS (in ``ops``) during
detection training, and for classification transforms they build at import time
but never run for detection. Put on the path by benchmarks/make_yolov5_env.sh;
never imported by the project.
"""
from . import datasets, ops, transforms  # noqa: F401
from ._unused import Unused

__version__ = '0.0.0+standin'


def __getattr__(name: str):
    return Unused
