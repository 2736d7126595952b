"""The training set of a config: its annotation file, plus pseudo-labelled images only
when asked, and never a test image otherwise."""
import json
import os.path as osp
from typing import List, Optional, Set

from mmyolo.datasets import YOLOv5CocoDataset
from mmyolo.registry import DATASETS
from parkdet_challenge.errors import InputError


def _image_paths(ann_file: str, image_root: str) -> Set[str]:
    """The normalized paths of a COCO file's images (empty when it does not exist)."""
    if not ann_file or not osp.isfile(ann_file):
        return set()
    with open(ann_file, encoding='utf-8') as f:
        images = json.load(f).get('images', [])
    return {osp.normpath(osp.join(image_root, image['file_name'])) for image in images}


@DATASETS.register_module()
class YOLOv5PseudoLabelCocoDataset(YOLOv5CocoDataset):
    """MMYOLO's :class:`YOLOv5CocoDataset` whose images are ``ann_file``'s and, when
    ``pseudo_label_file`` names one (the config's primary of that name), those of
    that COCO file too (``tools/pseudo_label.py``'s predictions on unlabelled
    images); ``None`` reads ``ann_file`` alone, as YOLOv5CocoDataset.

    A test image is trained on only through ``pseudo_label_file``: when an image of
    ``test_ann_file`` is among ``ann_file``'s (pseudo-labels merged into the
    training file, or a test file given as the training file), or a pseudo-label
    file holds an image of ``val_ann_file`` (its labels would be the model's own
    guesses on the images it is scored on), building the dataset stops with an
    InputError naming the file and an image.

    Args:
        pseudo_label_file: A COCO file of pseudo-labelled images (relative paths
            are below ``data_root``, as ``ann_file``), or None.
        test_ann_file, val_ann_file: The config's test and validation files
            (relative: below ``data_root``); a file that does not exist guards
            nothing.
        *args, **kwargs: YOLOv5CocoDataset's.
    """

    def __init__(self, *args, pseudo_label_file: Optional[str] = None,
                 test_ann_file: Optional[str] = None,
                 val_ann_file: Optional[str] = None, **kwargs) -> None:
        root = kwargs.get('data_root') or ''
        self.pseudo_label_file = pseudo_label_file and osp.join(root, pseudo_label_file)
        self.test_ann_file = test_ann_file and osp.join(root, test_ann_file)
        self.val_ann_file = val_ann_file and osp.join(root, val_ann_file)
        super().__init__(*args, **kwargs)

    def _paths(self, data_list: List[dict]) -> Set[str]:
        return {osp.normpath(info['img_path']) for info in data_list}

    def _read(self, ann_file: str) -> List[dict]:
        """``ann_file``'s data list, read as this dataset reads its own."""
        own = self.ann_file
        self.ann_file = ann_file
        try:
            return super().load_data_list()
        finally:
            self.ann_file = own

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        self._refuse_images_of(
            self.test_ann_file, 'test', data_list, self.ann_file,
            'the training set takes test images only as pseudo-labels, through the '
            'pseudo_label_file primary')
        if not self.pseudo_label_file:
            return data_list
        if not osp.isfile(self.pseudo_label_file):
            raise InputError(f'pseudo_label_file {self.pseudo_label_file} does not exist '
                             '(tools/pseudo_label.py writes it)')
        pseudo = self._read(self.pseudo_label_file)
        self._refuse_images_of(
            self.val_ann_file, 'validation', pseudo,
            f'pseudo_label_file {self.pseudo_label_file}',
            'pseudo-label the unlabelled images, not those the model is scored on')
        return data_list + pseudo

    def _refuse_images_of(self, ann_file: Optional[str], kind: str,
                          data_list: List[dict], holder: str, advice: str) -> None:
        """An InputError when ``data_list`` (``holder``'s) holds an image of
        ``ann_file`` (the ``kind`` set), naming one and ``advice``."""
        image_root = self.data_prefix.get('img', '') or ''
        shared = _image_paths(ann_file, image_root) & self._paths(data_list)
        if shared:
            raise InputError(
                f'{holder} holds {len(shared)} {kind} images of {ann_file} '
                f'(e.g. {sorted(shared)[0]}): {advice}')
