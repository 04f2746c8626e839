# Copyright (c) mmfacealign contributors. All rights reserved.
"""Shared fixtures: a small SynthFace dataset generated once per test session (built-in shape model, so it is
identical on every machine and needs no network)."""
import os
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
# the SRN video project is imported by its own package name (``srn_video``) with its folder on the path, as
# MMPose's projects are: here and in the tools the tests run as subprocesses
PROJECT = osp.join(REPO, 'projects', 'srn_video')
sys.path.insert(0, PROJECT)
os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (PROJECT, os.environ.get('PYTHONPATH')) if p)
os.environ.setdefault('OMP_NUM_THREADS', '1')

import mmfacealign  # noqa: E402,F401
from mmfacealign.datasets.synthface import SynthFaceConfig, write_synthface  # noqa: E402

SMALL = dict(image_size=128, num_train=192, num_val=48, num_test=48, seed=3, shape_model='builtin')


@pytest.fixture(scope='session')
def synthface_root(tmp_path_factory):
    """A small SynthFace (192 train, 48 val, 48 per test split, 128x128) under a session temp dir."""
    root = str(tmp_path_factory.mktemp('synthface') / 'synthface')
    write_synthface(root, SynthFaceConfig(**SMALL), workers=1, log=lambda *a: None)
    return root


@pytest.fixture(scope='session')
def repo_root():
    return REPO
