# Copyright (c) mmfacealign contributors. All rights reserved.
"""MeanShapeHook: the mean landmarks in normalised crop coordinates, as MMPose's own pipeline would place them."""
import numpy as np
import pytest
import torch
from mmpose.codecs import RegressionLabel
from mmpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

from mmfacealign.engine.hooks import MeanShapeHook, mean_normalised_shape
from mmfacealign.engine.hooks.mean_shape_hook import _find_padding


class _Faces:
    def __init__(self, infos):
        self.infos = infos

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return dict(self.infos[i])


def _infos():
    rng = np.random.default_rng(0)
    infos = []
    for _ in range(3):
        kpts = rng.uniform(40, 160, (1, 5, 2))
        x1, y1 = kpts[0].min(0) - 5
        x2, y2 = kpts[0].max(0) + 5
        infos.append(dict(keypoints=kpts, keypoints_visible=np.ones((1, 5)), bbox=np.array([[x1, y1, x2, y2]])))
    return infos


@pytest.mark.parametrize('input_size', [(128, 128), (96, 128)])
@pytest.mark.parametrize('given_centre_scale', [False, True])
def test_mean_shape_matches_mmposes_pipeline(input_size, given_centre_scale):
    """From ``bbox`` or, as 300W / WFLW / SynthFace give them, ``bbox_center`` / ``bbox_scale`` (which
    GetBBoxCenterScale pads as well)."""
    infos = _infos()
    if given_centre_scale:
        for info in infos:
            x1, y1, x2, y2 = info['bbox'][0]
            info['bbox_center'] = np.array([[(x1 + x2) / 2, (y1 + y2) / 2]])
            info['bbox_scale'] = np.array([[x2 - x1 + 7., y2 - y1]])
    codec = RegressionLabel(input_size=input_size)
    expected = []
    for info in infos:
        results = dict({k: np.array(v, copy=True) for k, v in info.items()}, img=np.zeros((200, 200, 3), np.uint8))
        results = TopdownAffine(input_size=input_size)(GetBBoxCenterScale(padding=1.25)(results))
        expected.append(codec.encode(results['transformed_keypoints'])['keypoint_labels'][0])
    got = mean_normalised_shape(_Faces(infos), input_size, padding=1.25)
    np.testing.assert_allclose(got, np.mean(expected, 0), atol=1e-5)


def test_hook_sets_the_head_once_and_reads_the_pipeline_padding():
    class Head(torch.nn.Module):
        input_size = (128, 128)

        def __init__(self):
            super().__init__()
            self.register_buffer('mean_shape', torch.zeros(5, 2))
            self.register_buffer('mean_shape_ready', torch.tensor(False))

        def set_mean_shape(self, s):
            self.mean_shape.copy_(s)
            self.mean_shape_ready.fill_(True)

    class Runner:
        pass

    runner = Runner()
    runner.model = torch.nn.Module()
    runner.model.head = Head()
    runner.cfg = dict(train_dataloader=dict(dataset=dict(pipeline=[dict(type='LoadImage'),
                                                                    dict(type='GetBBoxCenterScale', padding=1.5)])))
    assert _find_padding(runner.cfg) == 1.5
    runner.train_dataloader = type('L', (), dict(dataset=_Faces(_infos())))()
    runner.logger = type('Log', (), dict(info=staticmethod(lambda msg: None)))()
    MeanShapeHook().before_train(runner)
    expected = mean_normalised_shape(_Faces(_infos()), (128, 128), padding=1.5)
    np.testing.assert_allclose(runner.model.head.mean_shape.numpy(), expected, atol=1e-6)
    runner.model.head.mean_shape.zero_()
    MeanShapeHook().before_train(runner)                         # already set (e.g. resumed): kept
    assert runner.model.head.mean_shape.abs().sum() == 0
    runner.model.head = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match='no set_mean_shape'):
        MeanShapeHook().before_train(runner)
