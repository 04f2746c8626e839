# Copyright (c) mmfacealign contributors. All rights reserved.
"""The ODN head: flattened hybrid features, the low-rank learning module, the FC regressor and ODN's objective.

ODN (Zhu et al., CVPR 2019), Sec. 3.3 and 4, Eq. 3:
``min 1/N sum ||S_hat - S||_F^2 + beta ||M||_* + gamma ||M||_F^2 + alpha ||W_c||_F^2 + lambda ||W_fc||_F^2
+ eta ||P||_1`` with ``S = W_fc^T M^T X``. Each term this head computes is a registered loss and a named entry
of the loss dict: ``loss_kpt`` (the L2 term), ``loss_nuclear`` (beta), ``loss_frobenius`` (gamma) and
``loss_map_l1`` (eta, on the distillation map the :class:`~mmfacealign.models.necks.OcclusionAdaptiveNeck` passes
along). alpha and lambda, plain squared norms of the conv and FC weights, are weight decay in the optimiser
config (``weight_decay = 2 alpha``: the gradient of ``alpha ||W||^2`` is ``2 alpha W``).
"""
from typing import Dict, Optional, Sequence, Tuple

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..utils.coordinates import normalised_to_pixels
from .base_regression_head import BaseLandmarkRegressionHead

#: What the L1 term of ODN's Eq. 3 is taken on, see :class:`LowRankRegressionHead`.
MAP_L1_TARGETS = ('probability', 'logits')


@MODELS.register_module()
class LowRankRegressionHead(BaseLandmarkRegressionHead):
    """Flatten, ``M^T X`` (:class:`~mmfacealign.models.layers.LowRankModule`), FC to 2K (ODN Sec. 3.3, Eq. 1).

    Built on :class:`~mmfacealign.models.heads.BaseLandmarkRegressionHead` (MMPose's ``RegressionHead`` without
    its FC: flip test, decoding, ``acc_pose``). Input: ``feats[0]`` the down-sampled hybrid map (B, C, s, s), and,
    when the distillation module runs, ``feats[1]`` its logits P (B, 1, H, W).

    Args:
        in_features (int): d, the flattened size of ``feats[0]`` (the neck's ``num_features``; 512 by default).
        num_joints (int): Number of landmarks K.
        low_rank (dict, optional): The low-rank module. Default ``LowRankModule`` (M initialised to the
            identity); ``None`` for the Table 4 variants without it (then no M, no M regularisers).
        loss (dict): The landmark term. Default :class:`NormalizedL2Loss` without a normaliser: the summed squared
            error of the 2K coordinates, averaged over the batch, Eq. 3's first term.
        loss_space (str): Coordinates the landmark term compares: ``'normalised'`` (default; MMPose's
            ``RegressionLabel`` space, where the regularisers weigh the most against the landmark term; the paper
            does not state its units) or ``'pixel'`` (input pixels, where they are 224^2 times smaller still).
            Even in normalised coordinates the paper's coefficients barely act: the regularisers stay small beside
            the landmark term (the measured loss terms are in configs/odn/README.md, "Readings of what the paper
            leaves open", units of the L2 term).
        nuclear_loss (dict, optional): ``beta ||M||_*``. Default :class:`NuclearNormLoss` (1e-6, Sec. 5).
        frobenius_loss (dict, optional): ``gamma ||M||_F^2``. Default :class:`FrobeniusNormLoss` (1e-5).
        map_loss (dict, optional): ``eta ||P||_1``. Default :class:`MapL1Loss` (1e-6); ``None`` is the Table 4
            variant "without L1".
        map_l1_on (str): The paper writes the L1 term on "the single-channel map P" and calls P a probability map
            after its sigmoid; default ``'probability'`` (``sigmoid(P)``, sparse = most of the face map near 0,
            as the "ideal probability map only has 0 and 1 elements" the paper wants), ``'logits'`` the
            pre-sigmoid map.
        decoder (dict): Codec for :meth:`predict`. Default ``RegressionLabel(input_size=(224, 224))``.
        input_size (tuple, optional): Input (w, h). Default: the decoder's.
        init_cfg (dict, optional): Default: ``Normal(std=0.01)`` on the FC, as MMPose's ``RegressionHead``.

    Shapes: ``forward(feats) -> (B, K, 2)`` normalised coordinates.
    """

    @staticmethod
    def benchmark_extras(model_cfg) -> Tuple[str, ...]:
        """Extra measurements of ``tools/analysis_tools/benchmark_model.py`` for this head: ``'nuclear_norm'``,
        the cost of the low-rank regulariser's SVD (ODN Eq. 9) in a training step, when the module is on."""
        return ('nuclear_norm', ) if model_cfg.head.get('low_rank', True) else ()

    def __init__(self,
                 in_features: int,
                 num_joints: int,
                 low_rank: OptConfigType = dict(type='LowRankModule'),
                 loss: ConfigType = dict(type='NormalizedL2Loss', norm_indices=None),
                 loss_space: str = 'normalised',
                 nuclear_loss: OptConfigType = dict(type='NuclearNormLoss', loss_weight=1e-6),
                 frobenius_loss: OptConfigType = dict(type='FrobeniusNormLoss', loss_weight=1e-5),
                 map_loss: OptConfigType = dict(type='MapL1Loss', loss_weight=1e-6),
                 map_l1_on: str = 'probability',
                 decoder: OptConfigType = dict(type='RegressionLabel', input_size=(224, 224)),
                 input_size: Optional[Sequence[int]] = None,
                 init_cfg: OptConfigType = dict(type='Normal', layer=['Linear'], std=0.01, bias=0)):
        if loss_space not in ('normalised', 'pixel'):
            raise ValueError(f"LowRankRegressionHead: loss_space must be 'normalised' or 'pixel', got {loss_space!r}")
        if map_l1_on not in MAP_L1_TARGETS:
            raise ValueError(f'LowRankRegressionHead: map_l1_on must be one of {MAP_L1_TARGETS}, got {map_l1_on!r}')
        super().__init__(num_joints=num_joints, loss=loss, decoder=decoder, input_size=input_size,
                         init_cfg=init_cfg)
        self.in_features = in_features
        self.loss_space = loss_space
        self.map_l1_on = map_l1_on
        self.low_rank = None
        if low_rank is not None:
            self.low_rank = MODELS.build(dict(low_rank, num_features=in_features))
        self.fc = nn.Linear(in_features, num_joints * 2)
        has_m = self.low_rank is not None
        self.nuclear_loss = MODELS.build(nuclear_loss) if nuclear_loss is not None and has_m else None
        self.frobenius_loss = MODELS.build(frobenius_loss) if frobenius_loss is not None and has_m else None
        self.map_loss = MODELS.build(map_loss) if map_loss is not None else None

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        x = feats[0].flatten(1)
        if x.shape[1] != self.in_features:
            raise ValueError(f'LowRankRegressionHead: the neck gave {x.shape[1]} features per image (a map of '
                             f'{tuple(feats[0].shape[1:])}), but in_features={self.in_features}: set '
                             'model.head.in_features to model.neck.reduce_channels * model.neck.pool_size ** 2 '
                             f'= {x.shape[1]}')
        if self.low_rank is not None:
            x = self.low_rank(x)
        return self.fc(x).reshape(-1, self.num_joints, 2)

    def loss_terms(self, feats: Sequence[Tensor], labels: Tensor, weights: Tensor,
                   batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> Tuple[Tensor, Dict[str, Tensor]]:
        """``loss_kpt`` and, when their modules exist, ``loss_nuclear``, ``loss_frobenius``, ``loss_map_l1``."""
        pred = self.forward(feats)
        pred_l, labels_l = pred, labels
        if self.loss_space == 'pixel':
            size = self.check_input_size(batch_data_samples)
            pred_l, labels_l = normalised_to_pixels(pred, size), normalised_to_pixels(labels, size)
        losses = dict(loss_kpt=self.loss_module(pred_l, labels_l, weights.unsqueeze(-1)))
        if self.nuclear_loss is not None:
            losses['loss_nuclear'] = self.nuclear_loss(self.low_rank.weight)
        if self.frobenius_loss is not None:
            losses['loss_frobenius'] = self.frobenius_loss(self.low_rank.weight)
        if self.map_loss is not None and len(feats) > 1:
            logits = feats[1]
            losses['loss_map_l1'] = self.map_loss(logits.sigmoid() if self.map_l1_on == 'probability' else logits)
        return pred, losses
