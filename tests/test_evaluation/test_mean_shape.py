# Copyright (c) mmfacealign contributors. All rights reserved.
"""The mean-shape reference NME, by hand on tiny annotation files."""
import json

import numpy as np
import pytest

from mmfacealign.evaluation.functional import mean_shape_nme


def write(path, faces):
    anns = []
    for i, (kpts, extra) in enumerate(faces):
        k = np.concatenate([kpts, np.full((len(kpts), 1), 2.)], 1)
        anns.append(dict(id=i, image_id=i, keypoints=k.reshape(-1).tolist(), **extra))
    path.write_text(json.dumps(dict(images=[], annotations=anns)))
    return str(path)


def test_mean_shape_nme_by_hand(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-0.4, 0.4, (68, 2)), rng.uniform(-0.4, 0.4, (68, 2))
    a[36], a[45], b[36], b[45] = (-0.2, 0), (0.2, 0), (-0.3, 0), (0.3, 0)
    # training faces in boxes of side 200 (scale 1) and 100 (bbox form), the mean shape is (a + b) / 2
    train = write(tmp_path / 'train.json', [(100 + 200 * a, dict(center=[100, 100], scale=1.0)),
                                            (50 + 100 * b, dict(bbox=[0, 0, 100, 100]))])
    mean = (a + b) / 2                       # outer eye corners at -0.25, 0.25: inter-ocular 0.5 x side
    # a test face that is the mean shape shifted by 4 px in a box of side 80: NME = 4 / (0.5 * 80) = 0.1
    test = write(tmp_path / 'test.json', [(40 + 80 * mean + [4, 0], dict(center=[40, 40], scale=0.4))])
    assert mean_shape_nme(train, test) == pytest.approx(0.1)
    same = write(tmp_path / 'same.json', [(40 + 80 * mean, dict(center=[40, 40], scale=0.4))])
    assert mean_shape_nme(train, same) == pytest.approx(0., abs=1e-12)


def test_mean_shape_nme_bad_files_are_named(tmp_path):
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps(dict(images=[], annotations=[])))
    with pytest.raises(ValueError, match='empty.json: no annotations'):
        mean_shape_nme(str(empty), str(empty))
    nobox = write(tmp_path / 'nobox.json', [(np.zeros((68, 2)), {})])
    with pytest.raises(KeyError, match='nobox.json: annotation 0 has neither center/scale nor bbox'):
        mean_shape_nme(nobox, nobox)
