"""YOLOv5's ``--single-cls``: every class of a COCO file becomes one."""
import contextlib
import io

from mmdet.datasets.api_wrappers import COCO

from mmyolo.datasets import YOLOv5CocoDataset
from mmyolo.registry import DATASETS

#: YOLOv5's name for the one class (kept when the data has a single class).
SINGLE_CLASS_NAME = 'item'


def merge_into_one_class(coco: COCO) -> None:
    """Put every box of a loaded COCO file under one category, in place, as
    YOLOv5's ``--single-cls`` does: the category with the lowest id, named 'item'
    (or its own name when the file has one category)."""
    categories = sorted(coco.dataset.get('categories') or [], key=lambda c: c['id'])
    if not categories:
        return
    name = categories[0]['name'] if len(categories) == 1 else SINGLE_CLASS_NAME
    one = dict(categories[0], name=name)
    coco.dataset['categories'] = [one]
    for annotation in coco.dataset.get('annotations') or []:
        annotation['category_id'] = one['id']
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' progress lines
        coco.createIndex()
    # mmdet's snake-case aliases of the new index
    coco.img_ann_map, coco.cat_img_map = coco.imgToAnns, coco.catToImgs


class SingleClassCOCO(COCO):
    """mmdet's COCO API with every box under one category
    (:func:`merge_into_one_class`)."""

    def __init__(self, annotation_file=None) -> None:
        super().__init__(annotation_file)
        merge_into_one_class(self)


@DATASETS.register_module()
class SingleClassCocoDataset(YOLOv5CocoDataset):
    """MMYOLO's YOLOv5CocoDataset read as one class (YOLOv5's ``--single-cls``):
    its ``metainfo`` classes must be that one class, 'item' (or the data's own
    name when it has one class)."""

    COCOAPI = SingleClassCOCO
