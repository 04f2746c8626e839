# Copyright (c) mmfacealign contributors. All rights reserved.
"""Fixtures of the srn_video project tests: a small SynthFace video dataset generated once per session."""
import pytest

from mmfacealign.datasets.synthface.video import SynthFaceVideoConfig, write_synthface_video

#: 6 train videos (2 per category) and 3 test videos (1 per category) of 16 frames, 64x64, built-in shapes;
#: short segments so that every video has a still segment of at least 3 frame intervals.
SMALL_VIDEO = dict(image_size=64, num_videos_train=6, num_videos_test=3, frames=16, seed=5, shape_model='builtin',
                   move_frames=(4, 8), hold_frames=(3, 5))


@pytest.fixture(scope='session')
def synthface_video_root(tmp_path_factory):
    """Root of the small SynthFace video dataset (``SMALL_VIDEO``): images/, annotations/, meta.json."""
    root = str(tmp_path_factory.mktemp('synthface_video') / 'synthface_video')
    write_synthface_video(root, SynthFaceVideoConfig(**SMALL_VIDEO), workers=1, log=lambda *a: None)
    return root


@pytest.fixture(scope='session')
def synthface_video_settings():
    """The ``SynthFaceVideoConfig`` keyword arguments of ``synthface_video_root`` (a copy)."""
    return dict(SMALL_VIDEO)
