"""Experiment loggers (``--logger``): MMEngine's visualization backends by name.

Every run writes MMEngine's local logs; ``loggers`` (a config primary,
``tools/train.py --logger``) adds TensorBoard, MLflow (a local file store) or
Weights & Biases (offline) next to them. The visualizer then sends them the losses,
the learning rate and every validation metric, and the project's hooks send the
pictures it draws (:func:`send_pictures`).
"""
import importlib.util
import os
import os.path as osp
from typing import Dict, List, Sequence

import mmcv
from mmengine.visualization import MLflowVisBackend, Visualizer

from mmyolo.registry import VISBACKENDS
from parkdet_challenge.errors import InputError

# name -> (MMEngine backend config, the module it needs, its install command)
LOGGERS: Dict[str, tuple] = {
    'tensorboard': (dict(type='TensorboardVisBackend'), 'tensorboard',
                    'make install (requirements.txt pins tensorboard)'),
    'mlflow': (dict(type='FileStoreMLflowVisBackend', exp_name='parkdet_mm'),
               'mlflow',
               "pip install 'mlflow-skinny==3.18.0'"),
    'wandb': (dict(type='WandbVisBackend',
                   init_kwargs=dict(mode='offline', project='parkdet_mm')), 'wandb',
              "pip install 'wandb==0.31.0'"),
}


@VISBACKENDS.register_module()
class FileStoreMLflowVisBackend(MLflowVisBackend):
    """MMEngine's MLflow backend on MLflow's local file store (the run's
    ``vis_data`` folder) when no ``tracking_uri`` is given. MLflow 3 keeps that
    store in maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is
    set; a database store would need SQLAlchemy and a migration step, more than a
    local run's log deserves. ``mlflow ui --backend-store-uri
    WORK_DIR/TIMESTAMP/vis_data`` reads it."""

    def _init_env(self) -> None:
        if self._tracking_uri is None:
            os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
        super()._init_env()


def logger_backends(loggers: Sequence[str]) -> List[dict]:
    """The visualizer's backends: MMEngine's local one, then one per name of
    ``loggers`` (tensorboard, mlflow, wandb), each named after it. A name that is
    not one of these, or whose package is missing, is an InputError (for the
    latter, naming the install command)."""
    backends = [dict(type='LocalVisBackend')]
    for name in loggers:
        if name not in LOGGERS:
            raise InputError(f'logger {name!r}: not one of {", ".join(LOGGERS)}')
        backend, module, install = LOGGERS[name]
        if importlib.util.find_spec(module) is None:
            raise InputError(f'logger {name!r} needs the {module} package: '
                             f'{install}')
        backends.append(dict(backend, name=name))
    return backends


def send_pictures(visualizer: Visualizer, loggers: Sequence[str],
                  pictures: Sequence[str], step: int = 0) -> None:
    """Send the PNG files ``pictures`` to the visualizer's ``loggers`` backends,
    named by their file names (MLflow keeps each under that name); the local
    backend is left out, the files being on disk already."""
    if not loggers:
        return
    images = {osp.basename(path):
              mmcv.imread(path, channel_order='rgb') for path in pictures}
    for name in loggers:
        backend = visualizer.get_backend(name)
        for title, image in images.items():
            backend.add_image(title, image, step)
