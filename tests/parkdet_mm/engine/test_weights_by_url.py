"""Weights named by URL, as MMYOLO's configs name theirs (issue 26).

A YOLOv5 ``.pt`` in YOLOv5's own pickle layout is served from 127.0.0.1: the
project's loader fetches it once into torch's hub cache (``$TORCH_HOME``, a
temporary folder here), converts it in memory, and reads the cache once the server
is gone. Without a server and without the cached file it is one line naming the
URL. Nothing here reaches outside the machine.
"""
import contextlib
import http.server
import socket
import threading
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import torch
from helpers.yolov5_checkpoints import write_pair
from mmengine.config import Config
from mmengine.runner import CheckpointLoader
from yolov5_pickle_layout import YAML_V6_P6

import parkdet_mm  # noqa: F401  (registers the checkpoint loaders)
from parkdet_mm.engine.checkpoint import (
    CheckpointDownloadError,
    cached_checkpoint_path,
    fetch_checkpoint,
)
from parkdet_mm.engine.preflight import check_config_inputs


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[Tuple[str, List[str]]]:
    """An HTTP server on 127.0.0.1 for ``folder``: its base URL and the list of
    paths it was asked for."""
    requests: List[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url(name: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return f'http://127.0.0.1:{port}/{name}'


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    return home


def same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_url_is_fetched_once_into_the_hub_cache_then_read_from_it(tmp_path,
                                                                  torch_home):
    served = tmp_path / 'served'
    served.mkdir()
    path, _, _ = write_pair(served, YAML_V6_P6, 'P6', ema=True, name='yolov5x6.pt')
    local = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with serve(served) as (base, requests):
        url = f'{base}/yolov5x6.pt'
        fetched = CheckpointLoader.load_checkpoint(url, map_location='cpu')
        assert requests == ['/yolov5x6.pt']
    cached = torch_home / 'hub' / 'checkpoints' / 'yolov5x6.pt'
    assert cached_checkpoint_path(url) == str(cached)
    assert cached.read_bytes() == path.read_bytes()
    # converted in memory as the local .pt is: MMYOLO's keys, the same tensors
    assert fetched['meta']['anchors'] == local['meta']['anchors']
    same_state(fetched['state_dict'], local['state_dict'])
    # the server is gone: the cache answers
    again = CheckpointLoader.load_checkpoint(url, map_location='cpu')
    same_state(again['state_dict'], local['state_dict'])
    assert sorted(p.name for p in cached.parent.iterdir()) == ['yolov5x6.pt']


def test_preflight_fetches_a_load_from_url_before_training(tmp_path, torch_home):
    """tools/train.py's check before building anything downloads the file, so the
    runner's load reads the cache."""
    served = tmp_path / 'served'
    served.mkdir()
    path, _, _ = write_pair(served, YAML_V6_P6, 'P6', ema=False, name='w.pt')
    with serve(served) as (base, requests):
        check_config_inputs(Config(dict()), (), checkpoint=f'{base}/w.pt')
        assert requests == ['/w.pt']
    assert (torch_home / 'hub' / 'checkpoints' / 'w.pt').read_bytes() == \
        path.read_bytes()


@pytest.mark.parametrize('where', ['nothing listens', 'not on the server'])
def test_offline_and_not_cached_is_one_line_naming_the_url(tmp_path, torch_home,
                                                           where):
    if where == 'nothing listens':
        url = closed_port_url('yolov5x6.pt')
        reason = 'Connection refused'
        context = contextlib.nullcontext()
    else:
        (tmp_path / 'empty').mkdir()
        context = serve(tmp_path / 'empty')
        reason = 'HTTP Error 404: File not found'
    with context as served:
        if served:
            url = f'{served[0]}/yolov5x6.pt'
        with pytest.raises(CheckpointDownloadError) as err:
            fetch_checkpoint(url)
    cached = torch_home / 'hub' / 'checkpoints' / 'yolov5x6.pt'
    message = str(err.value)
    assert '\n' not in message
    for needle in (f'checkpoint {url} cannot be downloaded', reason, str(cached),
                   f'curl -L --create-dirs -o {cached} {url}',
                   'python tools/convert_yolov5.py yolov5x6.pt '
                   'checkpoints/yolov5x6.pth'):
        assert needle in message, message
    assert list(cached.parent.iterdir()) == []  # no partial download left
