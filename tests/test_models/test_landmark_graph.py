# Copyright (c) mmfacealign contributors. All rights reserved.
"""Landmark graphs: top-k correlation, built-in SCDF graphs, symmetrisation, Laplacian, file format."""
import numpy as np
import pytest
import scdf_neighbour_tables as tables

from mmfacealign.models.utils import BUILTIN_GRAPHS, LandmarkGraph, build_graph


def _hand_shapes():
    """4 faces, 4 landmarks, y = x. Pearson by hand: r01 = 6.5/sqrt(5 * 8.75) = 0.9827, r02 = -1,
    r03 = 1/sqrt(5) = 0.4472, r12 = -0.9827, r13 = 1.5/sqrt(8.75) = 0.5071, r23 = -0.4472."""
    x = np.array([[0, 0, 3, 0], [1, 1, 2, 1], [2, 2, 1, 0], [3, 4, 0, 1]], dtype=np.float64)   # (M, N)
    return np.stack([x, x], axis=-1)


HAND_C = np.array([[1, 0.98270763, 1, 0.4472136], [0.98270763, 1, 0.98270763, 0.50709255],
                   [1, 0.98270763, 1, 0.4472136], [0.4472136, 0.50709255, 0.4472136, 1]])


def test_correlation_matrix_hand_checked():
    np.testing.assert_allclose(LandmarkGraph.correlation_matrix(_hand_shapes()), HAND_C, atol=1e-7)
    # C = (|Cx| + |Cy|) / 2: with y unrelated to x the two terms average
    rng = np.random.default_rng(0)
    shapes = rng.normal(size=(30, 5, 2))
    cx, cy = np.corrcoef(shapes[..., 0].T), np.corrcoef(shapes[..., 1].T)
    np.testing.assert_allclose(LandmarkGraph.correlation_matrix(shapes), (np.abs(cx) + np.abs(cy)) / 2, atol=1e-12)


def test_correlation_of_constant_landmark_is_zero():
    shapes = _hand_shapes()[:, :3].copy()
    shapes[:, 2, 0] = 5.                                # x never varies
    c = LandmarkGraph.correlation_matrix(shapes)
    assert np.isfinite(c).all() and c[2, 2] == 1.
    np.testing.assert_allclose(c[0, 2], 0.5)            # only |Cy| = 1 remains, halved


def test_top_k_correlation_hand_checked():
    shapes = _hand_shapes()
    directed = lambda g: [g.neighbours(i, directed=True) for i in range(4)]  # noqa: E731
    # k = 1: row 1 ties 0 and 2 (0.9827) -> lower index; row 3 prefers 1 (0.507 > 0.447)
    assert directed(LandmarkGraph.top_k_correlation(shapes, k=1)) == [[2], [0], [0], [1]]
    # k = 2: row 3 ties 0 and 2 (0.447) -> 0
    assert directed(LandmarkGraph.top_k_correlation(shapes, k=2)) == [[1, 2], [0, 2], [0, 1], [0, 1]]
    g3 = LandmarkGraph.top_k_correlation(shapes, k=3)
    assert g3.num_edges == 12 and int(g3.symmetric_adjacency().sum()) == 16
    with pytest.raises(ValueError, match='k must be'):
        LandmarkGraph.top_k_correlation(shapes, k=4)
    with pytest.raises(ValueError, match='at least 2 shapes'):
        LandmarkGraph.top_k_correlation(shapes[:1], k=1)


def test_top_k_keeps_self_on_ties():
    # landmarks 0 and 1 identical: C[0, 1] = C[0, 0] = 1; top-(k+1) must still contain the node itself
    rng = np.random.default_rng(1)
    shapes = rng.normal(size=(50, 3, 2))
    shapes[:, 1] = shapes[:, 0]
    g = LandmarkGraph.top_k_correlation(shapes, k=1)
    assert g.neighbours(0, directed=True) == [1] and g.neighbours(1, directed=True) == [0]


@pytest.mark.parametrize('name,nnz,gcn,relloc', [
    ('wflw98_top3', 470, tables.WFLW98_TOP3_GCN, tables.WFLW98_TOP3_RELLOC),
    ('ibug68_anatomical', 266, tables.IBUG68_ANATOMICAL_GCN, tables.IBUG68_ANATOMICAL_RELLOC),
    ('cofw29_anatomical', 133, tables.COFW29_ANATOMICAL_GCN, tables.COFW29_ANATOMICAL_RELLOC),
    ('wflw98_anatomical', 388, tables.WFLW98_ANATOMICAL_GCN, tables.WFLW98_ANATOMICAL_RELLOC),
])
def test_builtin_graphs_match_official_tables(name, nnz, gcn, relloc):
    g = LandmarkGraph.builtin(name)
    assert g.num_nodes == len(gcn)
    adj = g.symmetric_adjacency()
    assert int(adj.sum()) == nnz
    np.testing.assert_array_equal(adj, adj.T)
    np.testing.assert_array_equal(np.diag(adj), 1)
    assert [g.neighbours(i) for i in range(g.num_nodes)] == gcn
    assert [g.neighbours(i, directed=True) for i in range(g.num_nodes)] == relloc


def test_builtin_edge_counts():
    counts = {name: LandmarkGraph.builtin(name).num_edges for name in BUILTIN_GRAPHS}
    assert counts == dict(wflw98_top3=294, ibug68_anatomical=99, cofw29_anatomical=52, wflw98_anatomical=145)
    degrees = LandmarkGraph.builtin('wflw98_top3').symmetric_adjacency(self_loops=False).sum(1)
    assert degrees.min() == 3 and degrees.max() == 7   # the official 68pts.txt graph


def test_symmetric_adjacency_small_case():
    g = LandmarkGraph.from_edges([(0, 1), (1, 2), (2, 2)], num_nodes=4)   # self-loop dropped
    assert g.num_edges == 2
    expected = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(g.symmetric_adjacency(), expected)
    np.testing.assert_array_equal(g.symmetric_adjacency(self_loops=False), expected - np.eye(4))


def test_laplacian_small_case():
    # path 0 -> 1 -> 2 listed one way only; node 3 isolated
    g = LandmarkGraph.from_edges([(0, 1), (1, 2)], num_nodes=4)
    lap = g.laplacian(directed=False)
    expected = np.array([[1, -1, 0, 0], [-.5, 1, -.5, 0], [0, -1, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_allclose(lap, expected)
    # directed (official, the default): row 2 has no out-edge -> delta_2 = p_2; row 1 only lists 2
    expected_dir = np.array([[1, -1, 0, 0], [0, 1, -1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    np.testing.assert_allclose(g.laplacian(directed=True), expected_dir)
    np.testing.assert_allclose(g.laplacian(), expected_dir)
    p = np.array([[0., 0.], [2., 0.], [2., 2.], [5., 5.]])
    np.testing.assert_allclose(lap @ p, [[-2, 0], [1, -1], [0, 2], [5, 5]])


def test_laplacian_rows_and_official_empty_rows():
    for name in ('wflw98_top3', 'ibug68_anatomical', 'cofw29_anatomical'):
        g = LandmarkGraph.builtin(name)
        for directed in (False, True):
            lap = g.laplacian(directed=directed)
            np.testing.assert_array_equal(np.diag(lap), 1)
            for i in range(g.num_nodes):
                nbrs = g.neighbours(i, directed=directed)
                off = np.delete(lap[i], i)
                if nbrs:
                    np.testing.assert_allclose(lap[i, nbrs], -1. / len(nbrs), rtol=1e-6)
                    assert np.count_nonzero(off) == len(nbrs)
                else:
                    assert not off.any()
    # official absolute-position rows
    empty = lambda n: [i for i in range(LandmarkGraph.builtin(n).num_nodes)  # noqa: E731
                       if not LandmarkGraph.builtin(n).neighbours(i, directed=True)]
    assert empty('ibug68_anatomical') == [33, 42, 54]
    assert empty('cofw29_anatomical') == [25, 28]
    assert empty('wflw98_top3') == []
    # both modes on the top-3 graph: row sums are 0 (translation invariant)
    for directed in (False, True):
        np.testing.assert_allclose(LandmarkGraph.builtin('wflw98_top3').laplacian(directed).sum(1), 0, atol=1e-6)


def test_wflw_directed_neighbourhood_averages_exactly_three():
    """Issue 7: the official WFLW recipe averages each landmark's 3 listed neighbours."""
    g = LandmarkGraph.builtin('wflw98_top3')
    lap = g.laplacian()                                                   # default: official directed rows
    off = lap - np.diag(np.diag(lap))
    np.testing.assert_array_equal((off != 0).sum(1), 3)
    np.testing.assert_allclose(off[off != 0], -1. / 3, rtol=1e-6)
    sym_counts = (g.laplacian(directed=False) != 0).sum(1) - 1             # the symmetrised reading: 3 to 7
    assert sym_counts.min() == 3 and sym_counts.max() == 7


def test_save_load_roundtrip_and_official_format(tmp_path):
    g = LandmarkGraph.builtin('cofw29_anatomical')
    path = str(tmp_path / 'g.txt')
    g.save(path, comment='test graph')
    h = LandmarkGraph.load(path)
    assert h.num_nodes == 29 and h.name == 'cofw29_anatomical'
    np.testing.assert_array_equal(h.edges, g.edges)
    # official files: "i j weight", no header; num_nodes inferred
    official = tmp_path / '3pts.txt'
    official.write_text('0 1 0.98\n1 2 0.5\n')
    o = LandmarkGraph.load(str(official))
    assert o.num_nodes == 3 and o.edges.tolist() == [[0, 1], [1, 2]]
    bad = tmp_path / 'bad.txt'
    bad.write_text('# num_nodes 3\n0 x\n')
    with pytest.raises(ValueError, match=r'bad.txt.*line 2'):
        LandmarkGraph.load(str(bad))
    out_of_range = tmp_path / 'oor.txt'
    out_of_range.write_text('# num_nodes 3\n0 3\n')
    with pytest.raises(ValueError, match='oor.txt.*out of range'):
        LandmarkGraph.load(str(out_of_range))


def test_build_graph_forms(tmp_path):
    assert build_graph('ibug68_anatomical', num_nodes=68).num_nodes == 68
    assert build_graph(dict(name='cofw29_anatomical')).num_edges == 52
    path = str(tmp_path / 'g.txt')
    LandmarkGraph.builtin('wflw98_top3').save(path)
    assert build_graph(path).num_edges == 294
    assert build_graph(dict(file=path)).num_edges == 294
    assert build_graph(dict(edges=[[0, 1]], num_nodes=3)).num_nodes == 3
    g = LandmarkGraph.builtin('cofw29_anatomical')
    assert build_graph(g) is g
    with pytest.raises(ValueError, match="'wflw98_top3' has 98 nodes, expected 68"):
        build_graph('wflw98_top3', num_nodes=68)
    with pytest.raises(ValueError, match='neither a built-in graph'):
        build_graph('no_such_graph.txt')
    with pytest.raises(ValueError, match='expected exactly one of'):
        build_graph(dict(name='wflw98_top3', file=path))
