"""Write a small synthetic data set in the challenge's layout (docs/reference.md section 1).

    python tools/make_demo_data.py OUT_DATA [--train 400] [--test 60] [--seed 0]
        [--format 2022|2021]

--format 2021 writes the 2021 driver-inattention challenge's layout (7 classes, its
labels and submission formats) instead. Then convert it like the real data, e.g.
    python tools/prepare_data.py --data-root OUT_DATA --out-dir OUT --val-size 80
"""
import argparse

from parkdet_challenge.demo import FORMATS, make_demo_data
from parkdet_challenge.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_data', help='folder to write (absent, empty, or an earlier demo)')
    parser.add_argument('--train', type=int, default=400, help='training images (400)')
    parser.add_argument('--test', type=int, default=60, help='test images (60)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (0)')
    parser.add_argument('--format', default='2022', choices=FORMATS,
                        help="the layout: 2022 (parking), 2021 (driver "
                             'inattention) or coco (a plain COCO set with other '
                             'class names and category ids)')
    args = parser.parse_args()
    print(make_demo_data(args.out_data, n_train=args.train, n_test=args.test, seed=args.seed,
                         data_format=args.format))


if __name__ == '__main__':
    run_cli(main)
