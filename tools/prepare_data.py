"""Convert the challenge's labels to checked COCO files (train / val / test) + report.

Reads DATA/train/label/Train.json, DATA/train/images/, and
DATA/Test_Images_Information.json with DATA/test/images/. 2021 driver-inattention data
(its {"annotations": [{"file_name", "objects"}]} labels, told apart by the file's shape)
goes in the same places; its test information file is optional (without it the
test images are the files of DATA/test/images/).
Writes OUT/annotations/{train,val,test}.json (file names relative to DATA),
OUT/annotations/train_diet.json (2021 only), with --folds K
OUT/annotations/fold{0..K-1}/{train,val}.json (+ train_diet.json for 2021),
OUT/report.json and OUT/class_distribution.png. Bad boxes and images are dropped
and listed in the report; input that cannot be used at all stops with one line, and
nothing is written. Every image's data is read and checked (--workers processes),
so a file cut short or garbled is rejected with its boxes; --no-verify reads
headers only.
"""
import argparse
import os

from parkdet_challenge.cli import run_cli
from parkdet_challenge.convert import prepare_data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data-root', required=True, help='the challenge data folder (DATA)')
    parser.add_argument('--out-dir', required=True, help='where the outputs go (OUT)')
    parser.add_argument('--val-size', type=int,
                        help='validation images (2022: 3000, drawn from the sorted '
                             'readable ids; 2021: 20000, drawn as its reference did, '
                             'random.sample over the labels file\'s entries); must '
                             'leave at least one training image')
    parser.add_argument('--seed', type=int, default=100,
                        help='split and fold seed (100)')
    parser.add_argument('--folds', type=int, default=0, metavar='K',
                        help='also write K train/val pairs (annotations/fold{k}/), '
                             'every readable image in one fold, stratified by class')
    parser.add_argument('--diet', action='store_true',
                        help='accepted for 2021 data, which always gets '
                             'annotations/train_diet.json, the "diet" subset of '
                             'train.json (cigar or phone; else eye_closed with a mouth '
                             'class; else every third image with mouth_opened)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes that verify the images (default: the cores)')
    parser.add_argument('--no-verify', action='store_true',
                        help="read only each image's header (its size), not its data: "
                             'faster, but a file cut short passes')
    parser.add_argument('--no-plot', action='store_true',
                        help='skip class_distribution.png (saves ~1 s of matplotlib)')
    args = parser.parse_args()
    conversion = prepare_data(args.data_root, args.out_dir, val_size=args.val_size,
                              seed=args.seed, diet=args.diet, plot=not args.no_plot,
                              progress=True, folds=args.folds,
                              verify=not args.no_verify, workers=args.workers)
    print(conversion.summary())
    print(f'wrote {args.out_dir}/annotations/ and {args.out_dir}/report.json')


if __name__ == '__main__':
    run_cli(main)
