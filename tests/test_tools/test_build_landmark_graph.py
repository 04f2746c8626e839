# Copyright (c) mmfacealign contributors. All rights reserved.
"""tools/misc/build_landmark_graph.py: the top-k correlation graph from a COCO-style annotation file."""
import json
import os.path as osp

import numpy as np
import pytest
from e2e_utils import load_tool

from mmfacealign.models.utils import LandmarkGraph


@pytest.fixture(scope='module')
def tool(repo_root):
    return load_tool('tools/misc/build_landmark_graph.py')


def _write_coco(path, faces, extra=()):
    anns = [dict(id=i, image_id=i, keypoints=kpts, **fields)
            for i, (kpts, fields) in enumerate(list(faces) + list(extra))]
    with open(path, 'w') as f:
        json.dump(dict(images=[], annotations=anns, categories=[]), f)


def test_box_normalisation_recovers_the_shape_correlations(tool, tmp_path):
    # hand case of tests/test_models/test_landmark_graph.py: top-1 neighbours [[2], [0], [0], [1]] in face
    # coordinates; each face is placed at a different position and size in the image
    x = np.array([[0, 0, 3, 0], [1, 1, 2, 1], [2, 2, 1, 0], [3, 4, 0, 1]], dtype=np.float64)
    offsets = [(100, 40), (10, 300), (250, 120), (60, 60)]
    sizes = [50., 120., 80., 200.]
    faces = []
    for xi, (ox, oy), s in zip(x, offsets, sizes):
        kpts = [v for px in xi for v in (ox + s * px, oy + s * px, 2)]
        faces.append((kpts, dict(center=[ox, oy], scale=s / 200.)))
    unlabelled = ([0, 0, 0] * 4, dict(center=[0, 0], scale=1.))              # skipped (v = 0)
    ann = str(tmp_path / 'train.json')
    _write_coco(ann, faces, extra=[unlabelled])
    out = str(tmp_path / 'graphs' / 'g.txt')
    graph = tool.main([ann, '--top-k', '1', '--out', out])
    assert [graph.neighbours(i, directed=True) for i in range(4)] == [[2], [0], [0], [1]]
    loaded = LandmarkGraph.load(out)
    assert loaded.name == 'g' and loaded.num_nodes == 4
    np.testing.assert_array_equal(loaded.edges, graph.edges)
    assert '4 faces, 1 skipped' in open(out).read()
    # without the normalisation the image placement dominates: a different graph
    raw = np.array([np.reshape(k, (4, 3))[:, :2] for k, _ in faces])
    assert LandmarkGraph.top_k_correlation(raw, k=1).edges.tolist() != graph.edges.tolist()


def test_on_synthface(tool, synthface_root, tmp_path):
    ann = osp.join(synthface_root, 'annotations', 'synthface_train.json')
    out = str(tmp_path / 'synthface_top3.txt')
    graph = tool.main([ann, '--top-k', '3', '--out', out])
    assert graph.num_nodes == 68 and graph.num_edges == 68 * 3
    # independent normalisation: (p - center) / (scale * 200)
    data = json.load(open(ann))
    shapes = np.stack([(np.reshape(a['keypoints'], (-1, 3))[:, :2] - a['center']) / (a['scale'] * 200.)
                       for a in data['annotations']])
    np.testing.assert_array_equal(LandmarkGraph.top_k_correlation(shapes, k=3).edges, graph.edges)
    # neighbours of a jaw point are mostly jaw points
    jaw_nbrs = sum(j < 17 for i in range(1, 16) for j in graph.neighbours(i, directed=True))
    assert jaw_nbrs >= 0.8 * 15 * 3


def test_errors(tool, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        tool.main([str(tmp_path / 'missing.json'), '--out', str(tmp_path / 'g.txt')])
    ann = str(tmp_path / 'bad.json')
    _write_coco(ann, [([0, 0, 2] * 3, {}), ([0, 0, 2] * 4, {})])
    with pytest.raises(ValueError, match='annotation id 1 has 4 keypoints'):
        tool.main([ann, '--out', str(tmp_path / 'g.txt')])
