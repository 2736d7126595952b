"""The challenge's 14 classes, in category_id order (docs/reference.md section 2)."""
from typing import Dict, List, Optional, Sequence, Tuple

# (English name, Korean name); category_id = position + 1.
CLASS_NAMES_KO: Tuple[Tuple[str, str], ...] = (
    ('sedan', '세단(승용차)'),
    ('SUV', 'SUV'),
    ('van', '승합차'),
    ('bus', '버스'),
    ('school bus', '학원차량(통학버스)'),
    ('truck', '트럭'),
    ('taxi', '택시'),
    ('adult', '성인'),
    ('child', '어린이'),
    ('motorcycle', '오토바이'),
    ('kickboard', '전동킥보드'),
    ('bicycle', '자전거'),
    ('stroller', '유모차'),
    ('cart', '쇼핑카트'),
)
CLASSES: Tuple[str, ...] = tuple(name for name, _ in CLASS_NAMES_KO)
NUM_CLASSES = len(CLASSES)


def coco_categories(classes: Tuple[str, ...] = CLASSES,
                    ids: Optional[Sequence[int]] = None) -> List[Dict]:
    """COCO ``categories`` entries of ``classes`` with ``ids`` (None: 1..len(classes)
    in the given order)."""
    ids = range(1, len(classes) + 1) if ids is None else ids
    return [{'id': int(i), 'name': name, 'supercategory': 'object'}
            for i, name in zip(ids, classes)]
