"""The 2021 recipe end to end through the tools, tiny: 2021-format data, both stages
through tools/train_pipeline.sh, the NMS ensemble of both checkpoints through
tools/predict.py, the 2021 submission."""
import json
import subprocess
from pathlib import Path

from conftest import REPO, run_tool, write_tiny_config

from parkdet_challenge.convert import prepare_data
from parkdet_challenge.demo import make_demo_data
from parkdet_mm.config import load_config

STAGE = '''
work_dir = {work!r}
load_from = {load_from!r}
'''


def test_2021_stages_and_nms_ensemble_write_the_2021_submission(tmp_path: Path) -> None:
    data = tmp_path / 'data'
    # (the data tools' CLIs have their own tests; in-process here saves two starts)
    make_demo_data(data, n_train=24, n_test=3, data_format='2021')
    prepare_data(data, data, val_size=4, plot=False)
    work = tmp_path / 'work'
    configs = []
    for stage, load_from in (('baseline', None),
                             ('finetune', f'{work}/baseline/epoch_1.pth')):
        config = write_tiny_config(tmp_path / f'{stage}.py', data, epochs=1,
                                   base=f'configs/challenge2021/demo/{stage}.py')
        with config.open('a') as f:
            f.write(STAGE.format(work=f'{work}/{stage}', load_from=load_from))
        configs.append(str(config))
    proc = subprocess.run(['bash', 'tools/train_pipeline.sh', *configs], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoints = [f'{work}/baseline/epoch_1.pth', f'{work}/finetune/epoch_1.pth']
    assert all(Path(c).is_file() for c in checkpoints)

    out = tmp_path / 'submission'
    run_tool(['tools/predict.py', configs[1], *checkpoints, '--data-root', str(data),
              '--ann-dir', str(data / 'annotations'), '--out-dir', str(out),
              '--img-size', '64'])
    written = json.loads((out / 'submission.json').read_text())
    names = sorted(p.stem + '.jpg' for p in (data / 'test/images').iterdir())
    assert sorted(e['file_name'] for e in written['annotations']) == names
    # each image's objects: the NMS ensemble of both models' own TTA detections
    cfg = load_config(configs[1], None, dict(
        data_root=str(data), ann_dir=str(data / 'annotations'),
        test_img_scale=(64, 64)))
    assert cfg.predict_ensemble == 'nms'
    fused = _ensemble_detections(cfg, checkpoints)
    assert sorted(fused) == names
    for entry in written['annotations']:
        preds = fused[entry['file_name']]
        assert len(preds), f"{entry['file_name']}: no detection to compare"
        want = [(cfg.classes[label], [round(v, 1) for v in box], round(score, 4))
                for box, score, label in zip(preds.bboxes.tolist(),
                                             preds.scores.tolist(),
                                             preds.labels.tolist())]
        got = [(o['class'], o['position'], o['confidence_score'])
               for o in entry['objects']]
        assert [list(o) for o in entry['objects']] == [
            ['class', 'position', 'confidence_score']] * len(got)
        assert sorted(got) == sorted(want), entry['file_name']
        assert [s for _, _, s in got] == sorted((s for _, _, s in got), reverse=True)


def _ensemble_detections(cfg, checkpoints) -> dict:
    """Image file (stem + .jpg) -> the detections of ``checkpoints`` fused as the
    config's ensemble, each with TTA, on the config's test set, in one thread as
    the tools run."""
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmyolo.registry import MODELS
    from parkdet_mm.apis.ensemble import ensemble_config
    init_default_scope('mmyolo')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MODELS.build(ensemble_config(cfg, checkpoints, tta=True)).eval()
        found = {}
        with torch.no_grad():
            for batch in Runner.build_dataloader(cfg.test_dataloader):
                for sample in model.test_step(batch):
                    found[Path(sample.img_path).stem + '.jpg'] = sample.pred_instances
    finally:
        torch.set_num_threads(threads)
    return found
