"""Competition formats, registered by name: what a data set's label file looks like,
its classes, its validation split, its extra training subsets, and how its
submission is written and capped. Built in: ``parking2022``, ``inattention2021``,
``coco`` (any COCO detection file) and ``yolo`` (YOLOv5's data YAML and txt
labels). A new competition is one module here that subclasses
:class:`CompetitionFormat` and registers it (see docs/data.md)."""
from . import coco, inattention2021, parking2022, yolo  # noqa: F401  (registers them)
from .base import (
    FORMATS,
    CompetitionFormat,
    DataLayout,
    format_of_file,
    get_format,
    register_format,
    seeded_val_mask,
)

__all__ = ['FORMATS', 'CompetitionFormat', 'DataLayout', 'format_of_file',
           'get_format', 'register_format', 'seeded_val_mask']
