# SCDF with the paper's dynamic neighbour weights (TIP 2021: "dynamically adapts the weights of node neighborhood"):
# per-image edge weights predicted from the globally pooled node-embedding map by two FC layers (the official code's
# relation_learner.py), shared by all graph layers, instead of the static learnable weights of the released config.
_base_ = ['./td-scdf_res34_1xb64-500e_wflw-256x256.py']
model = dict(head=dict(dynamic_adjacency=dict(type='DynamicAdjacency', source='node_map', transpose=False)))
