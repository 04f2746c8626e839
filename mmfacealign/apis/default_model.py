# Copyright (c) mmfacealign contributors. All rights reserved.
"""The model that the demo and :func:`~mmfacealign.apis.load_aligner` use when none is named: the real-photo
baseline trained on SynthFace's '3d' style, shipped in the repository (``checkpoints/``, with its sha256 and the
command and data that made it in ``checkpoints/README.md``), so that ``python demo/image_demo.py photo.jpg``
works offline with no other argument."""
import hashlib
import os.path as osp
from typing import Tuple

DEFAULT_CONFIG = 'configs/baselines/td-reg_res18-w32_1xb64-8e_synthface3d-real-128x128.py'
DEFAULT_CHECKPOINT = 'checkpoints/td-reg_res18-w32_synthface3d-real-128x128.pth'


def _roots():
    here = osp.dirname(osp.dirname(osp.abspath(__file__)))        # .../mmfacealign
    return [osp.dirname(here), osp.join(here, '.mim')]             # the clone (editable install), then .mim


def resolve(relpath: str) -> str:
    """``relpath`` (``configs/...`` or ``checkpoints/...``) in the clone or in the installed package's ``.mim``."""
    for root in _roots():
        path = osp.join(root, relpath)
        if osp.exists(path):
            return path
    raise FileNotFoundError(f'{relpath} is neither in the mmfacealign clone nor in the installed package '
                            f'({", ".join(_roots())}); reinstall mmfacealign or pass a config and checkpoint')


def default_model() -> Tuple[str, str]:
    """``(config, checkpoint)`` paths of the default model; :class:`FileNotFoundError` naming what is missing."""
    return resolve(DEFAULT_CONFIG), resolve(DEFAULT_CHECKPOINT)


def sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()
