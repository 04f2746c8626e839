# Copyright (c) mmfacealign contributors. All rights reserved.
"""Atomic writes: a file or a whole directory appears complete under its name, or not at all.

* :func:`atomic_file` writes through a temporary file beside the target (``.NAME.partial-<pid>``), optionally
  ``fsync``-ed, then ``os.replace``-d over it; :func:`dump_json_atomic` is the json case.
* :func:`atomic_directory` builds a directory as ``<dir>.partial-<pid>`` and renames it into place once complete
  (an old directory of that name is replaced only then); partial directories left by dead processes are removed.

Used by the SynthFace image and video writers, the shape-model cache, the real-photo cache, the metric's outputs
and the benchmarks. ``AtomicCheckpointHook`` keeps its own scheme: it wraps mmengine's ``save_checkpoint``, which
names the file itself, and also syncs the directory.
"""
import contextlib
import json
import os
import os.path as osp
import shutil
from typing import Iterator


def _partial(path: str) -> str:
    head, name = osp.split(osp.abspath(path))
    return osp.join(head, f'.{name}.partial-{os.getpid()}')


@contextlib.contextmanager
def atomic_file(path: str, mode: str = 'w', fsync: bool = False, **open_kwargs) -> Iterator:
    """``with atomic_file(path) as f: ...``: ``f`` is a temporary file beside ``path``, renamed over ``path`` when
    the block ends without an exception (after ``fsync`` with ``fsync=True``) and deleted otherwise. An
    interrupted write leaves the old file or none, never a half-written one."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = _partial(path)
    if 'b' not in mode:
        open_kwargs.setdefault('encoding', 'utf-8')
    try:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """``with atomic_path(path) as tmp: writer(tmp)``: for writers that take a file name (``np.savez``,
    ``torch.save``, ``cv2.imwrite``); ``tmp`` keeps ``path``'s extension (some writers add or check it)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    head, name = osp.split(osp.abspath(path))
    stem, ext = osp.splitext(name)
    tmp = osp.join(head, f'.{stem}.partial-{os.getpid()}{ext}')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def dump_json_atomic(obj, path: str, **json_kwargs) -> None:
    """``json.dump(obj)`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(path) as f:
        json.dump(obj, f, **json_kwargs)


def write_benchmark(path: str, rows: list, **meta) -> None:
    """A benchmark's results json at ``path`` (folders made; written atomically): ``{'meta': meta + machine and
    date, 'rows': rows}``."""
    import platform
    import time
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    meta = dict(meta, machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores',
                date=time.strftime('%Y-%m-%d'))
    dump_json_atomic(dict(meta=meta, rows=rows), path, indent=1)


def write_json(obj, path: str) -> None:
    """Compact json of ``obj`` to ``path``, encoded in one piece: ``json.dumps`` runs CPython's C encoder, where
    ``json.dump`` into a file always takes the slower pure-Python one."""
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json.dumps(obj))


def write_png(path: str, img) -> None:
    """Write a uint8 image (H x W x 3, BGR) as PNG, tuned for encoding speed over size (zlib level 1, Huffman
    coding only, the 'Up' filter; lossless like any PNG). An :class:`OSError` names the path."""
    import cv2
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
              cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    if not cv2.imwrite(path, img, params):
        raise OSError(f'could not write {path}')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(out_dir: str) -> None:
    """Delete ``<out_dir>.partial-<pid>`` directories whose process is gone (a killed writer's leftovers)."""
    parent, base = osp.split(osp.abspath(out_dir))
    if not osp.isdir(parent):
        return
    for name in os.listdir(parent):
        if name.startswith(base + '.partial-'):
            pid = name.rsplit('-', 1)[-1]
            if not (pid.isdigit() and _pid_alive(int(pid))):
                shutil.rmtree(osp.join(parent, name), ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(out_dir: str) -> Iterator[str]:
    """``with atomic_directory(out_dir) as tmp: <write everything under tmp>``: ``tmp`` is
    ``<out_dir>.partial-<pid>`` (stale ones of dead processes removed first); when the block ends without an
    exception it is renamed to ``out_dir``, an existing ``out_dir`` being replaced only then; otherwise it is
    deleted."""
    remove_stale_partials(out_dir)
    tmp = f'{osp.abspath(out_dir)}.partial-{os.getpid()}'
    if osp.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        yield tmp
        old = f'{osp.abspath(out_dir)}.old-{os.getpid()}' if osp.exists(out_dir) else None
        if old:
            os.rename(out_dir, old)
        os.makedirs(osp.dirname(osp.abspath(out_dir)), exist_ok=True)
        os.rename(tmp, out_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
