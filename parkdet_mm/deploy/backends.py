"""CPU inference backends: the detector's network run by ONNX Runtime or OpenVINO.

Only the network is exported (backbone, neck and head convolutions: the normalized
batch in, the head's raw outputs per level out, batch, height and width free); the
data preprocessor, YOLOv5's TTA views, the box decoding, NMS and the rescaling stay
the detector's own PyTorch code. So a backend gives the detections of the same
pre- and post-processing, with every route (predict, detect, TTA, ensembles) as
it is: :func:`use_backend` puts a :class:`BackendNetwork` in the detector's
backbone and lets the neck and the head's convolutions pass their input through.

The export is made on demand and cached beside the checkpoint
(``CHECKPOINT_STEM.network.onnx`` with ``.network.json``, what it was made from:
the checkpoint's size and time, the network's structure, the opset); it is made
again when any of them changes.
"""
import hashlib
import json
import os
import os.path as osp
import warnings
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import barrier, get_rank
from torch import Tensor, nn

from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError

BACKENDS = ('pytorch', 'onnxruntime', 'openvino')
OPSET = 17
#: Bumped when what the export writes changes, so that old caches are remade.
EXPORT_VERSION = 1


class NetworkOutputs(nn.Module):
    """The detector's network as one traceable module: the normalized batch to
    the head's outputs, flattened (class scores per level, then boxes, then
    objectness)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        outputs = self.detector.bbox_head(self.detector.extract_feat(inputs))
        return tuple(level for kind in outputs for level in kind)


def output_names(levels: int) -> List[str]:
    """The export's outputs, in order: per kind of the head's outputs, per level."""
    return [f'{kind}_{i}' for kind in ('cls_score', 'bbox_pred', 'objectness')
            for i in range(levels)]


def _network_parts(detector: nn.Module) -> List[nn.Module]:
    return [detector.backbone, getattr(detector, 'neck', None),
            detector.bbox_head.head_module]


def export_settings(detector: nn.Module, checkpoint: str) -> dict:
    """What the cached export is made from: the checkpoint (size, time), the
    network's structure (its modules' description) and the exporter's settings."""
    structure = '\n'.join(repr(part) for part in _network_parts(detector))
    stat = os.stat(checkpoint)
    return dict(checkpoint=osp.basename(checkpoint), size=stat.st_size,
                mtime_ns=stat.st_mtime_ns, opset=OPSET, version=EXPORT_VERSION,
                torch=torch.__version__,
                network=hashlib.sha256(structure.encode()).hexdigest())


def export_network(detector: nn.Module, path: str) -> None:
    """Export the detector's network to ONNX at ``path`` (atomically): input
    ``inputs`` (B, 3, H, W), normalized as the data preprocessor returns it, H and
    W multiples of the largest stride; outputs ``cls_score_{i}``, ``bbox_pred_{i}``,
    ``objectness_{i}`` per level, as the head returns them."""
    import onnx
    names = output_names(len(detector.bbox_head.featmap_strides))
    stride = int(max(detector.bbox_head.featmap_strides))
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        with warnings.catch_warnings():
            # TorchScript exporter (torch.export's would need onnxscript); its trace
            # warnings are about shapes, which the dynamic axes free
            warnings.simplefilter('ignore')
            torch.onnx.export(NetworkOutputs(detector).eval(),
                              (torch.zeros(1, 3, 2 * stride, 2 * stride), ), tmp,
                              dynamo=False, opset_version=OPSET, input_names=['inputs'],
                              output_names=names,
                              dynamic_axes={name: axes for name in ['inputs', *names]})
        onnx.checker.check_model(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def cached_export(detector: nn.Module, checkpoint: str) -> str:
    """The network export of ``checkpoint``'s detector beside the checkpoint, made
    (by rank 0, the others waiting) when absent or made from other settings."""
    stem = osp.splitext(checkpoint)[0]
    path, record = f'{stem}.network.onnx', f'{stem}.network.json'
    settings = export_settings(detector, checkpoint)
    if get_rank() == 0:
        try:
            with open(record, encoding='utf-8') as f:
                fresh = json.load(f) == settings and osp.isfile(path)
        except (OSError, ValueError):
            fresh = False
        if not fresh:
            with torch.no_grad():
                export_network(detector, path)
            write_bytes_atomic(record, json.dumps(settings, indent=1).encode())
    barrier()
    return path


class BackendNetwork(nn.Module):
    """Stands in for a detector's backbone: runs the exported network with
    ``backend`` on the CPU and returns the head's outputs as torch tensors
    (class scores, boxes, objectness: one list of levels each)."""

    def __init__(self, onnx_path: str, backend: str, levels: int,
                 threads: Optional[int] = None) -> None:
        super().__init__()
        self.backend = backend
        self.levels = levels
        threads = threads or torch.get_num_threads()
        if backend == 'onnxruntime':
            import onnxruntime as ort
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(onnx_path, options,
                                           providers=['CPUExecutionProvider'])
            self._run = lambda x: session.run(None, {'inputs': x})
        elif backend == 'openvino':
            self._core = openvino_core()
            self._model = self._core.read_model(onnx_path)
            self._config = {'INFERENCE_NUM_THREADS': threads,
                            # float32 as PyTorch (bf16 is the default on some CPUs)
                            'INFERENCE_PRECISION_HINT': 'f32'}
            self._requests = {}
            self._run = self._run_openvino
        else:
            raise ValueError(f'backend must be one of {BACKENDS[1:]}, got {backend!r}')

    def _run_openvino(self, inputs: np.ndarray) -> list:
        """OpenVINO compiles the network for each input shape once (static shapes
        run faster than one dynamic model: a test set has a few batch shapes)."""
        request = self._requests.get(inputs.shape)
        if request is None:
            model = self._model.clone()
            model.reshape({0: list(inputs.shape)})
            compiled = self._core.compile_model(model, 'CPU', self._config)
            request = self._requests[inputs.shape] = compiled.create_infer_request()
        results = request.infer({0: inputs})
        return [results[out] for out in request.model_outputs]

    def forward(self, inputs: Tensor) -> Tuple[List[Tensor], ...]:
        arrays = self._run(np.ascontiguousarray(inputs.detach().cpu().float().numpy()))
        tensors = [torch.from_numpy(np.asarray(a)) for a in arrays]
        return tuple(tensors[k * self.levels:(k + 1) * self.levels] for k in range(3))


def openvino_core():
    """OpenVINO's runtime; an InputError saying how to install it when absent."""
    try:
        import openvino
    except ImportError:
        raise InputError('--backend openvino needs OpenVINO: pip install .[openvino] '
                         '(or pip install openvino)') from None
    return openvino.Core()


def check_backend(backend: str, device: str, half: bool = False) -> None:
    """InputError for a backend this run cannot use: ONNX Runtime and OpenVINO run
    here on the CPU, in float32; OpenVINO must be installed."""
    if backend not in BACKENDS:
        raise InputError(f'--backend {backend}: one of {", ".join(BACKENDS)}')
    if backend == 'pytorch':
        return
    if not str(device).startswith('cpu'):
        raise InputError(f'--backend {backend} runs on the CPU: add --device cpu')
    if half:
        raise InputError(f'--half is for the pytorch backend on CUDA, not --backend '
                         f'{backend}')
    if backend == 'openvino':
        openvino_core()


def use_backend(detector: nn.Module, checkpoint: str, backend: str) -> nn.Module:
    """Run ``detector``'s network (loaded with ``checkpoint``) with ``backend``
    ('onnxruntime' or 'openvino') from its cached export; the rest of the
    detector stays as it is. Returns ``detector``."""
    path = cached_export(detector, checkpoint)
    detector.backbone = BackendNetwork(path, backend,
                                       len(detector.bbox_head.featmap_strides))
    detector.neck = nn.Identity()
    detector.bbox_head.head_module = nn.Identity()
    return detector
