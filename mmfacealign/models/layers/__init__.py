# Copyright (c) mmfacealign contributors. All rights reserved.
from .dynamic_adjacency import DynamicAdjacency
from .graph_conv import GraphConvBlock, ResGraphBlock, SemGCN, SemGraphConv, masked_softmax
from .node_mapper import NodeMapper

__all__ = [
    'SemGraphConv', 'GraphConvBlock', 'ResGraphBlock', 'SemGCN', 'masked_softmax', 'NodeMapper',
    'DynamicAdjacency'
]
