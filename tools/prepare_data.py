"""Convert a data set's labels to checked COCO files (train / val / test) + report.

The challenges' layout (default): reads DATA/train/label/Train.json,
DATA/train/images/, and DATA/Test_Images_Information.json with DATA/test/images/;
the 2022 (parking2022) or 2021 (inattention2021) labels are told apart by the
file's shape (2021's test information file is optional: without it the test images
are the files of DATA/test/images/).

Any COCO data set (--format coco, or a COCO file whose classes are not the 2022
challenge's): --train-json FILE (the labelled images), --images DIR (where the
images are, file_name relative to it, subfolders allowed) and optionally
--test-json FILE (the images to predict: a COCO file whose annotations, if any,
are not used), all under --data-root. Its classes and category ids are kept.

A YOLOv5 data set (--format yolo, or --data-yaml alone): --data-yaml FILE, its data
YAML (path, train, val, test, names) over images/ and labels/*.txt; --data-root
replaces the YAML's path. Its own val and test splits are kept (test.json with
its labels); a broken label line stops it with the file and line.

Writes OUT/annotations/{train,val,test}.json (file names relative to DATA),
OUT/annotations/classes.json (the class list the configs read), 2021's
OUT/annotations/train_diet.json, with --folds K
OUT/annotations/fold{0..K-1}/{train,val}.json, OUT/report.json and
OUT/class_distribution.png. The ground-truth audit lists suspicious boxes in
report.json ("suspicious": nearly the whole image, extreme aspect ratios, areas far
from their class's, duplicates; thresholds --audit-*), draws examples in
OUT/suspicious_boxes.png, and --drop-suspicious leaves them out. Bad boxes and
images of the challenges' files are dropped and listed in the report; input that
cannot be used at all (and any broken annotation of a COCO file) stops with one
line, and nothing is written. Every image's data is read and checked (--workers
processes), so a file cut short or garbled is rejected with its boxes; --no-verify
reads headers only.
"""
import argparse
import os
import os.path as osp
from pathlib import Path
from typing import Optional

from parkdet_challenge.audit import AuditThresholds
from parkdet_challenge.convert import prepare_data
from parkdet_challenge.errors import InputError, run_cli
from parkdet_challenge.formats import FORMATS, DataLayout
from parkdet_challenge.formats.yolo import dataset_root


def coco_layout(args: argparse.Namespace) -> Optional[DataLayout]:
    """The layout --train-json, --images and --test-json name (relative to the
    data root), or None without --train-json."""
    if args.train_json is None:
        if args.images or args.test_json:
            raise InputError('--images and --test-json go with --train-json')
        return None
    if args.images is None:
        raise InputError('--train-json needs --images (the folder of its images)')
    root = osp.abspath(args.data_root)

    def below_root(path: str, flag: str) -> str:
        full = osp.abspath(path if osp.isabs(path) else osp.join(root, path))
        if osp.commonpath([full, root]) != root:
            raise InputError(f'{flag} {path} is not under --data-root {args.data_root}')
        return osp.relpath(full, root).replace(os.sep, '/')

    images = below_root(args.images, '--images')
    return DataLayout(labels_file=below_root(args.train_json, '--train-json'),
                      train_images=images,
                      test_info_file=(below_root(args.test_json, '--test-json')
                                      if args.test_json else None),
                      test_images=images, recursive=True)


def yolo_layout(args: argparse.Namespace) -> DataLayout:
    """The layout of a YOLOv5 data YAML; sets ``args.data_root`` to the YAML's
    ``path`` when it was not given."""
    if not args.data_yaml:
        raise InputError('--format yolo needs --data-yaml FILE (a YOLOv5 data YAML)')
    if args.format not in (None, 'yolo'):
        raise InputError(f'--data-yaml is a YOLOv5 data set, not --format {args.format}')
    if args.train_json or args.images or args.test_json:
        raise InputError('--train-json, --images and --test-json are for COCO data, '
                         'not --data-yaml')
    yaml_path = osp.abspath(args.data_yaml)
    if not osp.isfile(yaml_path):
        raise InputError(f'--data-yaml {args.data_yaml} does not exist')
    if args.data_root is None:
        args.data_root = str(dataset_root(Path(yaml_path)))
    return DataLayout(labels_file=yaml_path, train_images='.', test_info_file=None,
                      test_images='.', recursive=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data-root',
                        help='the data folder (DATA); with --data-yaml, default: '
                        "the YAML's path")
    parser.add_argument('--out-dir', required=True, help='where the outputs go (OUT)')
    parser.add_argument('--format', choices=tuple(FORMATS),
                        help="the labels' format (default: told apart by the file)")
    parser.add_argument('--train-json', metavar='FILE',
                        help='a COCO file of the labelled images (COCO layout)')
    parser.add_argument('--images', metavar='DIR',
                        help='with --train-json: the folder of the images')
    parser.add_argument('--test-json', metavar='FILE',
                        help='with --train-json: a COCO file of the images to predict')
    parser.add_argument('--data-yaml', metavar='FILE',
                        help='a YOLOv5 data YAML: YOLO txt labels (--format yolo)')
    parser.add_argument('--val-size', type=int,
                        help='validation images (2022: 3000, drawn from the sorted '
                             'readable ids; 2021: 20000, drawn as its reference did, '
                             'random.sample over the labels file\'s entries; COCO: a '
                             'tenth); must leave at least one training image')
    parser.add_argument('--seed', type=int, default=100,
                        help='split and fold seed (100)')
    parser.add_argument('--folds', type=int, default=0, metavar='K',
                        help='also write K train/val pairs (annotations/fold{k}/), '
                             'every readable image in one fold, stratified by class')
    parser.add_argument('--diet', action='store_true',
                        help='accepted for 2021 data, which always gets '
                             'annotations/train_diet.json, the "diet" subset '
                             '(cigar or phone; else eye_closed with a mouth class; '
                             'else every third image with mouth_opened)')
    parser.add_argument('--diet-from', choices=('train', 'all'), default='train',
                        help='2021: the diet subset drawn from the training split '
                             '(default) or from every labelled image, validation '
                             'images included, as the reference did (all)')
    parser.add_argument('--drop-suspicious', action='store_true',
                        help="leave the audit's suspicious boxes out of the "
                             'annotation files (they are listed in report.json and '
                             'drawn in suspicious_boxes.png either way)')
    defaults = AuditThresholds()
    parser.add_argument('--audit-coverage', type=float, default=defaults.coverage,
                        help='suspicious: a box covering at least this share of '
                             f'its image ({defaults.coverage})')
    parser.add_argument('--audit-ratio', type=float, default=defaults.max_ratio,
                        help='suspicious: a box with a longer side this many times '
                             f'its shorter ({defaults.max_ratio:g})')
    parser.add_argument('--audit-area-mads', type=float, default=defaults.area_mads,
                        help="suspicious: a box's log-area this many median "
                             "absolute deviations from its class's median "
                             f'({defaults.area_mads:g})')
    parser.add_argument('--audit-iou', type=float, default=defaults.duplicate_iou,
                        help='suspicious: a box of the same class and image '
                             f'overlapping an earlier one this much ({defaults.duplicate_iou})')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes that verify the images (default: the cores)')
    parser.add_argument('--no-verify', action='store_true',
                        help="read only each image's header (its size), not its data: "
                             'faster, but a file cut short passes')
    parser.add_argument('--no-plot', action='store_true',
                        help='skip class_distribution.png (saves ~1 s of matplotlib)')
    args = parser.parse_args()
    if args.data_yaml or args.format == 'yolo':
        layout, data_format = yolo_layout(args), 'yolo'
    else:
        if args.data_root is None:
            parser.error('--data-root is required (or --data-yaml)')
        layout = coco_layout(args)
        data_format = args.format or ('coco' if layout is not None else None)
    conversion = prepare_data(args.data_root, args.out_dir, val_size=args.val_size,
                              seed=args.seed, diet=args.diet, plot=not args.no_plot,
                              progress=True, folds=args.folds,
                              verify=not args.no_verify, workers=args.workers,
                              data_format=data_format, layout=layout,
                              extras_from=args.diet_from,
                              audit=AuditThresholds(
                                  coverage=args.audit_coverage,
                                  max_ratio=args.audit_ratio,
                                  area_mads=args.audit_area_mads,
                                  duplicate_iou=args.audit_iou),
                              drop_suspicious=args.drop_suspicious)
    print(conversion.summary())
    print(f'wrote {args.out_dir}/annotations/ and {args.out_dir}/report.json')


if __name__ == '__main__':
    run_cli(main)
