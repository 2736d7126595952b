"""--val-interval, --patience and --logger on real training runs.

The runs validate on labels the model itself predicted before they start (its
best boxes on the val images), so fitness starts at its best and falls as training
moves the weights away: YOLOv5's EarlyStopping must then stop the run, keep the
first epoch's weights as best.pth, and do the same after a resume.
"""
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import run_tool, write_tiny_config

PATIENCE = 2
# Moves the weights off the pseudo-labels within a few epochs (no warmup).
DRIFT = '''
score_thr = 0.0
base_lr = 0.02
warmup_epochs = 0.0
warmup_min_iters = 0
'''


def _scalars(work: Path, key: str) -> list:
    (path,) = work.glob('*/vis_data/scalars.json')
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [row for row in rows if key in row]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope='module')
def stopped_run(tiny_coco, tmp_path_factory):
    """A run stopped early, its config and the pseudo-labelled val file."""
    root = tmp_path_factory.mktemp('controls')
    warm = write_tiny_config(root / 'warm.py', tiny_coco, epochs=1)
    warm.write_text(warm.read_text() + 'score_thr = 0.0\n')
    run_tool(['tools/train.py', str(warm), '--work-dir', str(root / 'warm')])
    run_tool(['tools/test.py', str(warm), str(root / 'warm' / 'epoch_1.pth'),
              '--work-dir', str(root / 'warm_test'), '--out-dir',
              str(root / 'preds'), '--cfg-options',
              'test_ann_file=annotations/val.json'])
    # The warm model's three best boxes per val image become the val labels.
    records = json.loads((root / 'preds' / 'preds.json').read_text())
    val = json.loads((tiny_coco / 'annotations' / 'val.json').read_text())
    val['annotations'] = []
    for image in val['images']:
        mine = sorted((r for r in records if r['image_id'] == image['id']),
                      key=lambda r: -r['score'])[:3]
        for r in mine:
            val['annotations'].append(dict(
                id=len(val['annotations']) + 1, image_id=image['id'],
                category_id=r['category_id'], bbox=r['bbox'],
                area=r['bbox'][2] * r['bbox'][3], iscrowd=0))
    assert val['annotations']
    pseudo = root / 'pseudo_val.json'
    pseudo.write_text(json.dumps(val))

    config = write_tiny_config(root / 'drift.py', tiny_coco, epochs=8)
    config.write_text(config.read_text() + DRIFT
                      + f"load_from = {str(root / 'warm' / 'epoch_1.pth')!r}\n"
                      + f'val_ann_file = {str(pseudo)!r}\n')
    work = root / 'run'
    result = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                       '--val-interval', '1', '--patience', str(PATIENCE),
                       '--logger', 'tensorboard', '--logger', 'mlflow',
                       '--logger', 'wandb'])
    return dict(config=config, work=work, pseudo=pseudo, root=root,
                log=result.stdout + result.stderr)


def test_patience_stops_where_yolov5s_early_stopping_does(stopped_run):
    work = stopped_run['work']
    fitness = [row['challenge/fitness']
               for row in _scalars(work, 'challenge/fitness')]
    # YOLOv5's EarlyStopping over the logged fitness, one validation per epoch
    best_fitness, best_epoch, stop_epoch = 0.0, 0, None
    for epoch, fi in enumerate(fitness, start=1):
        if fi >= best_fitness:
            best_epoch, best_fitness = epoch, fi
        if epoch - best_epoch >= PATIENCE:
            stop_epoch = epoch
            break
    assert stop_epoch is not None and stop_epoch < 8, fitness
    assert len(fitness) == stop_epoch
    stopped = json.loads((work / 'stopped_early.json').read_text())
    assert stopped == dict(epoch=stop_epoch, best_epoch=best_epoch,
                           best_score=best_fitness, monitor='challenge/fitness',
                           patience=PATIENCE)
    assert (f'stopping early: challenge/fitness has not improved for {PATIENCE} '
            f'validations (patience {PATIENCE}); best {best_fitness:.4f} at '
            f'epoch {best_epoch}') in stopped_run['log']
    assert not (work / f'epoch_{stop_epoch + 1}.pth').exists()
    # The run's final checkpoint, for the next stage and predict, is its best,
    # and the run recorded so when it ended.
    from parkdet_mm.config import final_checkpoint, load_config
    cfg = load_config(str(stopped_run['config']),
                      primaries=dict(work_dir=str(work)))
    assert final_checkpoint(cfg) == str(work / 'best.pth')
    record = json.loads((work / 'finished.json').read_text())
    assert {k: record[k] for k in ('final_checkpoint', 'epochs', 'stopped_early')} \
        == dict(final_checkpoint='best.pth', epochs=stop_epoch, stopped_early=True)


def test_best_pth_holds_the_best_epochs_weights(stopped_run):
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    work = stopped_run['work']
    stopped = json.loads((work / 'stopped_early.json').read_text())
    best = load_local_checkpoint(str(work / 'best.pth'))
    assert best['meta']['epoch'] == stopped['best_epoch']
    assert 'optimizer' not in best  # weights only, as YOLOv5's best.pt strips
    # Validating best.pth again gives the fitness logged for it.
    out = stopped_run['root'] / 'best_test'
    run_tool(['tools/test.py', str(stopped_run['config']), str(work / 'best.pth'),
              '--work-dir', str(out), '--out-dir', str(out.with_name('best_preds')),
              '--cfg-options', f"test_ann_file={stopped_run['pseudo']}"])
    # MMEngine's WORK_DIR/TIMESTAMP/TIMESTAMP.json holds the test's metrics
    (metrics_file,) = out.glob('*/*.json')
    metrics = json.loads(metrics_file.read_text().splitlines()[-1])
    assert metrics['challenge/fitness'] == pytest.approx(stopped['best_score'])


def test_resume_keeps_the_best_and_the_patience_count(stopped_run, tmp_path):
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    stopped = json.loads((stopped_run['work'] / 'stopped_early.json').read_text())
    stop = stopped['epoch']
    # A copy of the run as it was when killed after epoch stop - 1's checkpoint.
    work = tmp_path / 'run'
    shutil.copytree(stopped_run['work'], work)
    (work / f'epoch_{stop}.pth').unlink()
    (work / 'stopped_early.json').unlink()
    before = work / f'epoch_{stop - 1}.pth'
    (work / 'last_checkpoint').write_text(str(before))
    state = load_local_checkpoint(str(before))['message_hub']['runtime_info']
    assert state['early_stopping']['wait_count'] == PATIENCE - 1  # mid-count
    best_md5 = _md5(work / 'best.pth')

    result = run_tool(['tools/train.py', str(stopped_run['config']),
                       '--work-dir', str(work), '--val-interval', '1',
                       '--patience', str(PATIENCE), '--resume'])
    assert f'resumed epoch: {stop - 1}' in result.stdout + result.stderr
    assert json.loads((work / 'stopped_early.json').read_text()) == stopped
    assert _md5(work / 'best.pth') == best_md5
    assert not (work / f'epoch_{stop + 1}.pth').exists()


def test_a_fresh_run_clears_a_stale_stop(stopped_run, tmp_path):
    work = tmp_path / 'again'
    work.mkdir()
    shutil.copy(stopped_run['work'] / 'stopped_early.json', work)
    run_tool(['tools/train.py', str(stopped_run['config']), '--work-dir',
              str(work), '--epochs', '1'])
    assert not (work / 'stopped_early.json').exists()
    assert (work / 'epoch_1.pth').exists()


def test_a_validation_equal_to_the_best_replaces_best_pth(
        tiny_coco, tmp_path, monkeypatch, unformatted_config_dumps):
    """As YOLOv5's best.pt: a fitness equal to the best so far replaces best.pth,
    a lower one does not (planted fitness 0.5, 0.5, 0.4 over three epochs)."""
    from helpers.train_flags import config_from_train_flags

    from parkdet_mm.engine import DerivingRunner
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric
    planted = iter([0.5, 0.5, 0.4])
    monkeypatch.setattr(ChallengeSubmissionMetric, 'compute_metrics',
                        lambda self, results: dict(fitness=next(planted)))
    work = tmp_path / 'work'
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=3)
    cfg = config_from_train_flags(monkeypatch, [
        str(config), '--val-interval', '1', '--work-dir', str(work)])
    for hook in ('train_batch', 'training_curves', 'diagnostics'):
        cfg.default_hooks.pop(hook)
    DerivingRunner.from_cfg(cfg).train()
    assert next(planted, None) is None  # three validations
    best = load_local_checkpoint(str(work / 'best.pth'))
    assert best['meta']['epoch'] == 2
    second, third = (load_local_checkpoint(str(work / f'epoch_{e}.pth'))['state_dict']
                     for e in (2, 3))
    assert all(torch.equal(t, second[k]) for k, t in best['state_dict'].items())
    assert not all(torch.equal(t, third[k]) for k, t in best['state_dict'].items())


def test_every_logger_reads_back_with_its_own_reader(stopped_run):
    work = stopped_run['work']
    (vis_data,) = work.glob('*/vis_data')
    fitness = [row['challenge/fitness']
               for row in _scalars(work, 'challenge/fitness')]
    losses = [row['loss'] for row in _scalars(work, 'loss')]
    pictures = {'train_batch0.png', 'PR_curve.png', 'confusion_matrix.png',
                'results.png'}

    # TensorBoard's event reader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(vis_data), size_guidance={'images': 0})
    events.Reload()
    tags = events.Tags()
    assert [e.value for e in events.Scalars('challenge/fitness')] == \
        pytest.approx(fitness)
    assert [e.value for e in events.Scalars('loss')] == pytest.approx(losses)
    assert {'lr', 'mean_loss', 'challenge/mAP_50'} <= set(tags['scalars'])
    assert pictures <= set(tags['images'])

    # MLflow's client on the local file store
    import os
    os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=f'file://{vis_data}')
    experiment = client.get_experiment_by_name('parkdet_mm')
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, 'challenge/fitness')
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == \
        pytest.approx(fitness)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert pictures <= artifacts

    # W&B's offline run: its records, parsed by W&B's own protobuf classes
    from wandb.proto import wandb_internal_pb2
    (run_file,) = vis_data.glob('wandb/offline-run-*/run-*.wandb')
    logged = []
    for data in _wandb_records(run_file.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        if record.WhichOneof('record_type') == 'history':
            items = {item.key or '/'.join(item.nested_key):
                     json.loads(item.value_json) for item in record.history.item}
            if 'challenge/fitness' in items:
                logged.append(items['challenge/fitness'])
    assert logged == pytest.approx(fitness)
    media = run_file.parent / 'files' / 'media' / 'images'
    assert pictures <= {p.name.split('.png_')[0] + '.png' for p in media.iterdir()}


def _wandb_records(raw: bytes):
    """The records of a .wandb file: W&B's LevelDB-style log (a 7-byte ':W&B'
    header, then 32 KiB blocks of records, each a 7-byte header: CRC, length,
    type 1 full / 2 first / 3 middle / 4 last). wandb 0.31 has no Python reader
    (its Go core reads them)."""
    assert raw[:4] == b':W&B'
    block, pos, pending = 32768, 7, b''
    while pos + 7 <= len(raw):
        room = block - pos % block
        if room < 7:  # the rest of a block too small for a header is padding
            pos += room
            continue
        length = int.from_bytes(raw[pos + 4:pos + 6], 'little')
        kind = raw[pos + 6]
        if kind == 0 and length == 0:
            break
        data = raw[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            yield data
        elif kind in (2, 3):
            pending += data
        elif kind == 4:
            yield pending + data
            pending = b''
