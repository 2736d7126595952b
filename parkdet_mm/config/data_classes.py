"""Configs that take their classes from the data (``classes = None``)."""
import json
import os.path as osp
from typing import Tuple

from parkdet_challenge.errors import InputError

#: What tools/prepare_data.py writes next to the annotation files.
CLASSES_FILE = 'classes.json'


def classes_of_data(data_root: str, ann_dir: str) -> Tuple[str, ...]:
    """The class names tools/prepare_data.py wrote for the data set into
    ``ANN_DIR/classes.json`` (``ann_dir`` below ``data_root``), in category-id
    order; a missing or unreadable file is an InputError saying how to make it."""
    path = osp.join(data_root, ann_dir, CLASSES_FILE)
    try:
        with open(path, encoding='utf-8') as f:
            classes = json.load(f)['classes']
    except FileNotFoundError:
        raise InputError(f'{path} does not exist: the config takes its classes '
                         'from the data; run tools/prepare_data.py first') from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f'{path}: not a class list ({err})') from None
    return tuple(classes)
