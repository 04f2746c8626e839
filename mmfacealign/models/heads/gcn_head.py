# Copyright (c) mmfacealign contributors. All rights reserved.
"""The SCDF head: node features, landmark-graph relational network, Soft Wing and relative-location losses.

SCDF: Lin, Zhu et al., "Structure-Coherent Deep Feature Learning for Robust Face Alignment", TIP 2021, and its
official code (github ``BeierZhu/Sturcture-Coherency-Face-Alignment``; the file names below are in it). On top
of any backbone:

1. :class:`~mmfacealign.models.layers.NodeMapper`: last feature map -> one feature per landmark (the official
   ``BaseMapToNode``);
2. :class:`~mmfacealign.models.layers.SemGCN`: graph convolutions over the landmark graph -> (x, y) per
   landmark (``models/gcn_model/sem_gcn.py``), optionally with per-image neighbour weights from
   :class:`~mmfacealign.models.layers.DynamicAdjacency` (the paper's dynamic neighbourhood;
   ``relation_learner.py``);
3. training: Soft Wing on the absolute positions (``loss_kpt``) + relative location loss (``loss_rel``), both in
   input pixels with the element-mean reduction (``losses/functional.py``, ``losses/wing_loss.py``).
"""
from typing import Dict, Optional, Sequence, Tuple, Union

from mmpose.models.losses import SoftWingLoss, WingLoss
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from .. import layers  # noqa: F401  (registers NodeMapper, SemGCN, DynamicAdjacency)
from ..utils.coordinates import normalised_to_pixels, pixels_to_normalised
from ..utils.landmark_graph import GraphLike, build_graph
from .base_regression_head import BaseLandmarkRegressionHead


@MODELS.register_module()
class GCNLandmarkHead(BaseLandmarkRegressionHead):
    """Landmark-graph relational head of SCDF (TIP 2021), for ``TopdownPoseEstimator``.

    Built on :class:`~mmfacealign.models.heads.BaseLandmarkRegressionHead` (MMPose's ``RegressionHead`` without its
    FC layer): flip test, decoding and ``acc_pose`` are ``RegressionHead``'s; this class writes its forward and its
    two loss terms.

    Coordinates: :meth:`forward` returns MMPose's normalised input coordinates ``(B, K, 2)`` (``RegressionLabel``
    space). Internally the graph network regresses pixels of the input crop, as the official model does
    (``output_space='pixel'``), and the losses compare pixels, so the paper's Soft Wing parameters (in pixels)
    apply unchanged. ``input_size`` is the one scale used for both conversions.

    Target weights: the official code supervises all 2N coordinates of every face, including landmarks that the
    augmentation moved outside the crop; MMPose's ``RegressionLabel`` gives those weight 0. The default
    (``use_target_weight=False`` in both losses, also the losses' own default, so a partial override of either
    loss keeps it) follows the official code; ``use_target_weight=True`` drops them as MMPose's heads do.

    Args:
        in_channels (int): Channels of the last backbone map. Default 512 (ResNet-34, official ``resnet_pure.py``).
        num_joints (int): Number of landmarks K. Default 98 (WFLW).
        in_featuremap_size (int | (int, int)): Size of the last backbone map. Default (8, 8) (256 input / 32,
            official ``resnet_pure.py``). Only its product matters (node feature size ``n * H * W``).
        graph: Landmark graph: built-in name, graph file, dict or ``LandmarkGraph`` (see
            :func:`~mmfacealign.models.utils.build_graph`). Default ``'wflw98_top3'`` (the released WFLW config,
            ``experiments/WLFW/config_resnet.yaml``); use ``'ibug68_anatomical'`` / ``'cofw29_anatomical'`` or a file
            from ``tools/misc/build_landmark_graph.py`` for other layouts.
        node_mapper (dict): The :class:`~mmfacealign.models.layers.NodeMapper` config (``in_channels`` and
            ``num_nodes`` come from this head). Default channels per landmark n = 4 and a 256-channel first conv
            (official ``BaseMapToNode``).
        gcn (dict): The :class:`~mmfacealign.models.layers.SemGCN` config (input size, mask, 2 outputs and
            ``edge_weights`` come from this head). Default hidden size 128, 4 residual blocks (10 graph
            convolutions) and ``weight_init='official'``: one ``xavier_uniform_(gain=1.414)`` on the stacked
            (2, in, out) tensor, as the official ``sem_gcn.py``; ``'per_matrix'`` initialises each (in, out) matrix
            on its own (about 9x larger bound for 256 -> 128).
        dynamic_adjacency (dict, optional): Per-image neighbour weights (the paper's dynamic neighbourhood; official
            ``relation_learner.py``): a :class:`~mmfacealign.models.layers.DynamicAdjacency` config plus
            ``source``, the map it reads: ``'node_map'`` (default; the paper's H0, official V2) or ``'backbone'``
            (official V1). ``transpose=True`` reproduces the official transpose of the adjacency. Default None:
            static learnable edge weights (the released config; the paper describes the dynamic ones, and its
            text available to us does not say which its results use).
        output_space (str): What the graph network regresses: ``'pixel'`` (default, official: pixels of the
            input, divided by ``input_size`` in :meth:`forward`) or ``'normalised'``.
        loss_space (str): Where the losses compare coordinates: ``'pixel'`` (default; the paper's Soft Wing
            parameters are in pixels) or ``'normalised'``. With ``'normalised'``, a (Soft) Wing loss whose
            ``omega1``/``omega`` is 1 or more (i.e. still in pixels: on [0, 1] coordinates every error would fall
            in its linear part) is refused with an error; divide its parameters by the input size.
        loss (dict): Absolute-position loss. Default :class:`MeanSoftWingLoss` (omega1 2, omega2 20, epsilon 0.5,
            element mean, official ``losses/functional.py``), all 2N coordinates supervised (official), weight 1 (the
            official config's ``task_weight``).
        relative_loss (dict, optional): Relative-location loss; ``None`` disables it. Default
            :class:`RelativeLocationLoss` over the official directed neighbour rows (``directed=True``), Soft Wing
            as above, weight 1 (the official ``laplace_weight``). Its ``graph`` defaults to this head's graph.
        decoder (dict): Codec for :meth:`predict`. Default ``RegressionLabel(input_size=(256, 256))``.
        input_size (tuple, optional): Input (w, h) in pixels. Default: the decoder's ``input_size``.
        init_cfg (dict, optional): Initialisation config. Default None (each layer's own initialisation: Kaiming
            for the node mapper convs, ``gcn.weight_init`` and ones for the graph convolutions, as the official code).
    """

    def __init__(self,
                 in_channels: int = 512,
                 num_joints: int = 98,
                 in_featuremap_size: Union[int, Tuple[int, int]] = (8, 8),
                 graph: GraphLike = 'wflw98_top3',
                 node_mapper: ConfigType = dict(type='NodeMapper', expansion=4, mid_channels=256),
                 gcn: ConfigType = dict(type='SemGCN', hidden_channels=128, num_res_blocks=4, weight_init='official'),
                 dynamic_adjacency: OptConfigType = None,
                 output_space: str = 'pixel',
                 loss_space: str = 'pixel',
                 loss: ConfigType = dict(type='MeanSoftWingLoss', omega1=2.0, omega2=20.0, epsilon=0.5,
                                         use_target_weight=False, loss_weight=1.0),
                 relative_loss: OptConfigType = dict(
                     type='RelativeLocationLoss', directed=True, use_target_weight=False, loss_weight=1.0,
                     loss=dict(type='MeanSoftWingLoss', omega1=2.0, omega2=20.0, epsilon=0.5)),
                 decoder: OptConfigType = dict(type='RegressionLabel', input_size=(256, 256)),
                 input_size: Optional[Sequence[int]] = None,
                 init_cfg: OptConfigType = None):
        # a partial override (``head.gcn.hidden_channels=16`` on a config that lists no ``gcn``) keeps the type
        node_mapper, gcn = dict(dict(type='NodeMapper'), **node_mapper), dict(dict(type='SemGCN'), **gcn)
        dynamic_source = None
        if dynamic_adjacency is not None:
            dynamic_adjacency = dict(dict(type='DynamicAdjacency'), **dynamic_adjacency)
            dynamic_source = dynamic_adjacency.pop('source', 'node_map')
        for arg, value, allowed in (('dynamic_adjacency.source', dynamic_source, (None, 'node_map', 'backbone')),
                                    ('output_space', output_space, ('pixel', 'normalised')),
                                    ('loss_space', loss_space, ('pixel', 'normalised'))):
            if value not in allowed:
                raise ValueError(f'GCNLandmarkHead: {arg} must be one of {allowed}, got {value!r}')
        super().__init__(num_joints=num_joints, loss=loss, decoder=decoder, input_size=input_size,
                         init_cfg=init_cfg)
        if self.input_size is None and 'pixel' in (output_space, loss_space):
            raise ValueError('GCNLandmarkHead: pixel output or loss needs input_size (or a decoder with one)')
        self.in_channels = in_channels
        if isinstance(in_featuremap_size, int):
            in_featuremap_size = (in_featuremap_size, in_featuremap_size)
        self.in_featuremap_size = tuple(in_featuremap_size)
        self.graph = build_graph(graph, num_nodes=num_joints)
        self.dynamic_source = dynamic_source
        self.output_space = output_space
        self.loss_space = loss_space

        mask = self.graph.symmetric_adjacency(self_loops=True)
        self.node_mapper = MODELS.build(dict(node_mapper, in_channels=in_channels, num_nodes=num_joints))
        self.node_channels = self.node_mapper.node_feature_size(self.in_featuremap_size)
        # with dynamic weights the static edge weights would be dead parameters (and break DDP): leave them out
        self.gcn = MODELS.build(dict(gcn, in_channels=self.node_channels, adjacency_mask=mask, out_channels=2,
                                     edge_weights=dynamic_adjacency is None))
        self.dynamic_adjacency = None
        if dynamic_adjacency is not None:
            dyn_in = self.node_mapper.out_channels if dynamic_source == 'node_map' else in_channels
            self.dynamic_adjacency = MODELS.build(dict(dynamic_adjacency, in_channels=dyn_in, adjacency_mask=mask))

        if relative_loss is not None:
            relative_loss = dict(relative_loss)
            relative_loss.setdefault('graph', self.graph)
            self.relative_loss_module = MODELS.build(relative_loss)
        else:
            self.relative_loss_module = None
        if loss_space == 'normalised':
            self._refuse_pixel_wing_parameters()

    def _refuse_pixel_wing_parameters(self) -> None:
        """With ``loss_space='normalised'`` errors are below 1: a Wing-type threshold of 1 or more is in pixels."""
        modules = [('loss', self.loss_module)]
        if self.relative_loss_module is not None:
            modules.append(('relative_loss.loss', self.relative_loss_module.loss_module))
        for key, module in modules:
            threshold = getattr(module, 'omega1', None) if isinstance(module, SoftWingLoss) else (
                getattr(module, 'omega', None) if isinstance(module, WingLoss) else None)
            if threshold is not None and threshold >= 1:
                raise ValueError(
                    f"GCNLandmarkHead: loss_space='normalised' compares coordinates in [0, 1], but {key} "
                    f'({type(module).__name__}) has a threshold of {threshold}, a pixel value: every error would '
                    f'fall in its linear part. Divide its omega/epsilon parameters by the input size '
                    f"{self.input_size} or use loss_space='pixel'")

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Multi-level features (the last is used) -> normalised coordinates (B, K, 2)."""
        x = feats[-1]
        fmap = self.node_mapper.embed(x)
        nodes = self.node_mapper.to_nodes(fmap)
        if nodes.shape[-1] != self.node_channels:
            raise ValueError(f'GCNLandmarkHead: the feature map {tuple(x.shape[2:])} gives node features of size '
                             f'{nodes.shape[-1]}, but in_featuremap_size={self.in_featuremap_size} expects '
                             f'{self.node_channels}')
        adj = None
        if self.dynamic_adjacency is not None:
            adj = self.dynamic_adjacency(fmap if self.dynamic_source == 'node_map' else x)
        coords = self.gcn(nodes, adj)
        if self.output_space == 'pixel':
            coords = pixels_to_normalised(coords, self.input_size)
        return coords

    def loss_terms(self, feats: Tuple[Tensor], labels: Tensor, weights: Tensor,
                   batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> Tuple[Tensor, Dict[str, Tensor]]:
        """``loss_kpt`` (Soft Wing on the positions) and ``loss_rel`` (relative location), in input pixels by
        default (as the official ``losses/wing_loss.py`` and ``losses/functional.py``)."""
        pred = self.forward(feats)
        pred_l, labels_l = pred, labels
        if self.loss_space == 'pixel':
            scale = self.check_input_size(batch_data_samples)
            pred_l, labels_l = normalised_to_pixels(pred, scale), normalised_to_pixels(labels, scale)
        w = weights.unsqueeze(-1)
        losses = dict(loss_kpt=self.loss_module(pred_l, labels_l, w))
        if self.relative_loss_module is not None:
            losses['loss_rel'] = self.relative_loss_module(pred_l, labels_l, w)
        return pred, losses
