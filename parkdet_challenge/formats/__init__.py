"""Competition formats, registered by name: what a data set's label file looks like,
its classes, its validation split, its extra training subsets, and how its
submission is written and capped. Built in: ``parking2022``, ``inattention2021`` and
``coco`` (any COCO detection file). A new competition is one module here that
subclasses :class:`CompetitionFormat` and registers it (see docs/data.md)."""
from .base import (FORMATS, CompetitionFormat, DataLayout, format_of_file,
                   get_format, register_format, seeded_val_mask)
# Registered in this order, the order a label file's shape is matched in: a COCO
# file with the 2022 challenge's 14 classes is the challenge's.
from . import parking2022  # noqa: E402,F401,I001
from . import inattention2021  # noqa: E402,F401
from . import coco  # noqa: E402,F401

__all__ = ['FORMATS', 'CompetitionFormat', 'DataLayout', 'format_of_file',
           'get_format', 'register_format', 'seeded_val_mask']
