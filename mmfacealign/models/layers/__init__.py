# Copyright (c) mmfacealign contributors. All rights reserved.
from .cropnet import CropNet
from .dynamic_adjacency import DynamicAdjacency
from .graph_conv import GraphConvBlock, ResGraphBlock, SemGCN, SemGraphConv, init_graph_conv_weight, masked_softmax
from .hsrm import HierarchicalStructuralRelation
from .low_rank import LowRankModule
from .node_mapper import NodeMapper
from .odn_blocks import DistillationModule, GeometryAwareModule, channel_matrix_product
from .patch_cnn import PatchCNN

__all__ = ['HierarchicalStructuralRelation', 'PatchCNN',
    'SemGraphConv', 'GraphConvBlock', 'ResGraphBlock', 'SemGCN', 'masked_softmax', 'init_graph_conv_weight',
    'NodeMapper', 'DynamicAdjacency', 'CropNet', 'GeometryAwareModule', 'DistillationModule',
    'channel_matrix_product', 'LowRankModule'
]
