"""Writers of small data sets on disk (PNGs, JSON files) in the layouts the converter reads."""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from PIL import Image


def png(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (width, height), (100, 110, 120)).save(path)


def dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding='utf-8')


def write_set(root: Path, images: List[Dict], annotations: List[Any],
              test: Optional[List[Dict]] = None, disk: Optional[Dict[str, Any]] = None) -> Path:
    """A 2022-format data set. Every listed image is written at the size its entry
    gives (64x48 if none), unless ``disk`` maps its name to a size or to None (absent)."""
    disk = disk or {}
    for entry in images:
        size = disk.get(entry['file_name'], (entry.get('width', 64), entry.get('height', 48)))
        if size is not None:
            png(root / 'train/images' / entry['file_name'], *size)
    test = test if test is not None else [
        {'id': 1000, 'file_name': 'aaaa-0001.png', 'width': 40, 'height': 30}]
    for entry in test:
        png(root / 'test/images' / entry['file_name'], entry['width'], entry['height'])
    dump(root / 'train/label/Train.json', {'images': images, 'annotations': annotations,
                                           'categories': []})
    dump(root / 'Test_Images_Information.json', {'images': test})
    return root
