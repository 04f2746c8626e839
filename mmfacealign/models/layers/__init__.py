# Copyright (c) mmfacealign contributors. All rights reserved.
from .cropnet import CropNet
from .dynamic_adjacency import DynamicAdjacency
from .graph_conv import GraphConvBlock, ResGraphBlock, SemGCN, SemGraphConv, init_graph_conv_weight, masked_softmax
from .node_mapper import NodeMapper

__all__ = [
    'SemGraphConv', 'GraphConvBlock', 'ResGraphBlock', 'SemGCN', 'masked_softmax', 'init_graph_conv_weight',
    'NodeMapper', 'DynamicAdjacency', 'CropNet'
]
