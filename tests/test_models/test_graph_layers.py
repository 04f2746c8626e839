# Copyright (c) mmfacealign contributors. All rights reserved.
"""Graph relational layers of SCDF: SemGraphConv numerics, blocks, SemGCN, NodeMapper, DynamicAdjacency."""
import math

import numpy as np
import pytest
import torch

from mmfacealign.models.layers import (
    DynamicAdjacency,
    GraphConvBlock,
    NodeMapper,
    ResGraphBlock,
    SemGCN,
    SemGraphConv,
    masked_softmax,
)
from mmfacealign.models.utils import LandmarkGraph

PATH3 = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float32)   # 0 - 1 - 2 with self-loops


def _hand_conv():
    conv = SemGraphConv(1, 1, PATH3)
    with torch.no_grad():
        conv.weight[0].fill_(2.)       # W0 (self)
        conv.weight[1].fill_(3.)       # W1 (neighbours)
        conv.bias.fill_(.5)
    return conv


def test_sem_graph_conv_three_nodes_by_hand():
    conv = _hand_conv()
    x = torch.tensor([[[1.], [2.], [4.]]])
    # e = 1 everywhere -> uniform rows: [1/2, 1/2, 0], [1/3, 1/3, 1/3], [0, 1/2, 1/2]
    # out_0 = 1/2*2*1 + 1/2*3*2 + .5 = 4.5; out_1 = 1/3*2*2 + 1/3*3*(1+4) + .5 = 6.8333; out_2 = 1/2*2*4 + 1/2*3*2 + .5
    torch.testing.assert_close(conv(x), torch.tensor([[[4.5], [4 / 3 + 5.5], [7.5]]]))
    # edge weights in row-major mask order: (0,0), (0,1), (1,0), ... ; e_00 = ln 3, e_01 = 0 -> row 0 = [3/4, 1/4]
    with torch.no_grad():
        conv.edge_weight[0] = math.log(3.)
        conv.edge_weight[1] = 0.
    torch.testing.assert_close(conv.normalised_adjacency()[0], torch.tensor([.75, .25, 0.]))
    assert conv(x)[0, 0, 0].item() == pytest.approx(.75 * 2 * 1 + .25 * 3 * 2 + .5)
    # a per-sample adjacency replaces the static one
    adj = torch.tensor([[[0., 1., 0.], [0., 1., 0.], [0., 0., 1.]]])
    torch.testing.assert_close(conv(x, adj), torch.tensor([[[3 * 2 + .5], [2 * 2 + .5], [2 * 4 + .5]]]))


def test_sem_graph_conv_init_and_shapes():
    torch.manual_seed(0)
    conv = SemGraphConv(16, 8, LandmarkGraph.builtin('cofw29_anatomical').symmetric_adjacency())
    assert conv.edge_weight.shape == (133, ) and torch.all(conv.edge_weight == 1)
    # official: one xavier_uniform_ on the stacked (2, in, out) tensor -> fan_in = in * out, fan_out = 2 * out
    bound = 1.414 * math.sqrt(6. / (16 * 8 + 2 * 8))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert conv.bias.abs().max() <= 1 / math.sqrt(8)
    adj = conv.normalised_adjacency()
    torch.testing.assert_close(adj.sum(1), torch.ones(29))
    assert torch.all(adj[~conv.mask] == 0)
    assert conv(torch.randn(3, 29, 16)).shape == (3, 29, 8)
    with pytest.raises(ValueError, match=r'\(B, 29, C\)'):
        conv(torch.randn(3, 28, 16))


@pytest.mark.parametrize('c_in,c_out,official', [(256, 128, 0.0191), (128, 128, 0.0269), (128, 2, 0.215)])
def test_sem_graph_conv_weight_init_bounds(c_in, c_out, official):
    """Facts A.4: the official bound for 256->128, 128->128, 128->2; 'per_matrix' is the usual Xavier one."""
    mask = np.ones((5, 5))
    torch.manual_seed(0)
    conv = SemGraphConv(c_in, c_out, mask)
    bound = 1.414 * math.sqrt(6. / (c_in * c_out + 2 * c_out))
    assert bound == pytest.approx(official, abs=5e-4)
    assert conv.weight_init == 'official' and conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.95 * bound                         # uniform fills its range
    torch.manual_seed(0)
    per_matrix = SemGraphConv(c_in, c_out, mask, weight_init='per_matrix')
    pm_bound = 1.414 * math.sqrt(6. / (c_in + c_out))
    assert per_matrix.weight.abs().max() <= pm_bound and per_matrix.weight.abs().max() > 0.95 * pm_bound
    if c_in == 256:
        assert pm_bound / bound == pytest.approx(9.27, abs=0.01)         # "about 9x" (issue 7)
    with pytest.raises(ValueError, match='weight_init'):
        SemGraphConv(c_in, c_out, mask, weight_init='kaiming')
    # the head and SemGCN pass the switch down to every layer
    gcn = SemGCN(16, mask, hidden_channels=8, num_res_blocks=1, weight_init='per_matrix')
    assert {m.weight_init for m in gcn.modules() if isinstance(m, SemGraphConv)} == {'per_matrix'}


def test_sem_graph_conv_gradcheck():
    torch.manual_seed(0)
    conv = SemGraphConv(3, 2, PATH3).double()
    x = torch.randn(2, 3, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: conv(inp), (x, ))
    # gradient w.r.t. the learnable edge weights, through the masked softmax
    e = conv.edge_weight.detach().clone().requires_grad_(True)
    mask = conv.mask
    assert torch.autograd.gradcheck(lambda w: masked_softmax(w, mask), (e, ))


def test_blocks_and_semgcn():
    torch.manual_seed(0)
    mask = LandmarkGraph.builtin('wflw98_top3').symmetric_adjacency()
    block = GraphConvBlock(8, 4, mask)
    y = block(torch.randn(2, 98, 8))
    assert y.shape == (2, 98, 4) and (y >= 0).all()
    res = ResGraphBlock(4, mask).eval()
    x = torch.randn(2, 98, 4)
    torch.testing.assert_close(res(x), x + res.block2(res.block1(x)))   # no ReLU after the sum
    assert (res(x) < 0).any()
    gcn = SemGCN(256, mask)
    assert sum(isinstance(m, SemGraphConv) for m in gcn.modules()) == 10
    assert sum(isinstance(m, SemGraphConv) for m in SemGCN(256, mask, num_res_blocks=2).modules()) == 6
    assert sum(p.numel() for p in gcn.parameters()) == 336350            # the official SemGCN: 0.34 M
    nodes = torch.randn(2, 98, 256)
    out = gcn(nodes)
    assert out.shape == (2, 98, 2)
    # passing the static adjacency explicitly changes nothing
    gcn.eval()
    static = gcn.input_layer.conv.normalised_adjacency()
    torch.testing.assert_close(gcn(nodes, static.expand(2, 98, 98)), gcn(nodes))


def test_node_mapper_shapes_and_channel_grouping():
    torch.manual_seed(0)
    mapper = NodeMapper(512, 98, expansion=4, mid_channels=256)
    assert sum(p.numel() for p in mapper.parameters()) == 2084112        # the official node mapper: 2.08 M
    small = NodeMapper(8, 5, expansion=3, mid_channels=6)
    x = torch.randn(2, 8, 4, 4)
    fmap = small.embed(x)
    nodes = small(x)
    assert fmap.shape == (2, 15, 4, 4) and nodes.shape == (2, 5, 3 * 16)
    assert small.node_feature_size((4, 4)) == 48
    for i in range(5):
        torch.testing.assert_close(nodes[:, i], fmap[:, 3 * i:3 * i + 3].flatten(1))


@pytest.mark.parametrize('name', ['wflw98_top3', 'ibug68_anatomical', 'cofw29_anatomical'])
def test_dynamic_adjacency_any_graph(name):
    torch.manual_seed(0)
    graph = LandmarkGraph.builtin(name)
    mask = graph.symmetric_adjacency()
    n = graph.num_nodes
    dyn = DynamicAdjacency(n * 4, mask)
    assert dyn.nnz == int(mask.sum()) and dyn.fc2.out_features == dyn.nnz
    assert dyn.fc1.out_features == n * 2
    adj = dyn(torch.randn(3, n * 4, 8, 8))
    assert adj.shape == (3, n, n)
    torch.testing.assert_close(adj.sum(-1), torch.ones(3, n))
    assert torch.all(adj[:, torch.from_numpy(mask) == 0] == 0)
    assert not torch.allclose(adj[0], adj[1])                             # per image
    # the raw weights land on the mask in row-major order, then each row is softmaxed
    w = dyn.edge_weights(torch.randn(3, n * 4, 8, 8))
    full = torch.full((3, n, n), -9e15)
    full[:, torch.from_numpy(mask) > 0] = w
    torch.testing.assert_close(masked_softmax(w, dyn.mask), torch.softmax(full, -1))


def test_dynamic_adjacency_transpose_and_gradients():
    torch.manual_seed(0)
    dyn = DynamicAdjacency(12, PATH3, transpose=True)
    x = torch.randn(4, 12, 2, 2)
    adj = dyn(x)
    torch.testing.assert_close(adj.sum(1), torch.ones(4, 3))             # columns normalised (official quirk)
    gcn = SemGCN(5, PATH3, hidden_channels=4, num_res_blocks=1)
    gcn(torch.randn(4, 3, 5), adj).sum().backward()
    assert dyn.fc1.weight.grad is not None and dyn.fc1.weight.grad.abs().sum() > 0
    # layers for dynamic weights carry no static edge weights (no unused parameters under DDP)
    dyn_gcn = SemGCN(5, PATH3, hidden_channels=4, num_res_blocks=1, edge_weights=False)
    assert all(m.edge_weight is None for m in dyn_gcn.modules() if isinstance(m, SemGraphConv))
    assert sum(p.numel() for p in gcn.parameters()) - sum(p.numel() for p in dyn_gcn.parameters()) == 4 * 7
    dyn_gcn(torch.randn(4, 3, 5), adj.detach()).sum().backward()
    assert all(p.grad is not None for p in dyn_gcn.parameters())
    with pytest.raises(RuntimeError, match='edge_weights=False'):
        dyn_gcn(torch.randn(4, 3, 5))
