"""Write files so that a reader sees the old content or the new one, never a part of it.

Each file is written to a temporary name in its own folder (same file system, so the
final ``os.replace`` is atomic), flushed to disk, then renamed over the target. A
failure before the rename removes the temporary file and leaves the target untouched.
"""
import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any, Iterator, List, Mapping, Tuple, Union

PathLike = Union[str, 'os.PathLike[str]']


def _temp_path(path: Path) -> Path:
    # A hidden name that no other writer picks: pid plus random bytes. Built by hand
    # rather than with tempfile.mkstemp, whose 0600 mode would leak into the result.
    return path.with_name(f'.{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp')


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh temporary file next to ``path``; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        with open(tmp, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[IO[bytes]]:
    """Yield a binary file; when the block ends without error it replaces ``path``.

    On an exception the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        with open(tmp, 'xb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (creating its folder if needed)."""
    with atomic_write(path) as f:
        f.write(data)


def write_json_atomic(path: PathLike, obj: Any, **dump_kwargs: Any) -> None:
    """Replace ``path`` with ``json.dumps(obj, **dump_kwargs)`` (UTF-8), atomically."""
    write_bytes_atomic(path, json.dumps(obj, **dump_kwargs).encode('utf-8'))


def write_files_atomic(files: Mapping[PathLike, bytes]) -> None:
    """Write several files so that none is replaced unless all could be written.

    Every file first goes to a temporary name; only when all are on disk are they
    renamed over their targets. If any write fails, the temporary files are removed
    and no target changes.
    """
    staged: List[Tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            staged.append((_write_temp(Path(path), data), Path(path)))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
