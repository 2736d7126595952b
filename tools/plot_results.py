"""Draw a training run's curves (losses, learning rate, validation metrics).

    python tools/plot_results.py WORK_DIR [--out FILE]

Reads MMEngine's scalar logs (WORK_DIR/TIMESTAMP/vis_data/scalars.json; a resumed
run's later folders replace what earlier ones logged from where they start) and
writes one PNG, by default WORK_DIR/results.png. Training writes the same picture
when it ends (TrainingCurvesHook).
"""
import argparse

from parkdet_challenge.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', metavar='WORK_DIR',
                        help='the work dir of a training run')
    parser.add_argument('--out', help='PNG to write (default: WORK_DIR/results.png)')
    args = parser.parse_args()
    from parkdet_mm.visualization.training_curves import plot_training_curves
    print(f'wrote {plot_training_curves(args.work_dir, args.out)}')


if __name__ == '__main__':
    run_cli(main)
