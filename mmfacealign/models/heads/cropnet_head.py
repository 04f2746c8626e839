# Copyright (c) mmfacealign contributors. All rights reserved.
"""The FFLD head: a coarse regressor, then CropNet refinement stages on intermediate feature maps.

FFLD: Yan, Duffner et al., "Fine-grained facial landmark detection exploiting intermediate feature representations",
CVIU 200 (2020) 103036 (no public code: this follows the paper's text). On top of a backbone that returns its
intermediate maps (:class:`~mmfacealign.models.backbones.ResNetWithStem`):

1. the coarse shape ``S0`` from any coordinate-regression head (default: global average pooling of the last
   stage + FC, the paper's baseline CRM, Sec. 3.1);
2. refinement stages (Sec. 3.2, Fig. 1): stage ``t`` crops ``8 x 8`` patches of its level's map around
   ``S_{t-1}`` and its :class:`~mmfacealign.models.layers.CropNet` adds a correction, ``S_t = S_{t-1} + dS_t``;
   by default the 3rd (stride 8), 2nd (stride 4) and 1st (stride 2) levels, coarse to fine;
3. training (Sec. 4, the multi-loss scheme): one loss per stage, each a config entry and a named term of the
   loss dict: ``loss_s0`` inter-ocular-normalised L2 (Eq. 1), ``loss_s1`` L2, ``loss_s2`` L1, ``loss_s3`` the
   Align Loss (Eq. 2). A ``None`` entry switches a term off (Table 5 ablations are configs).

Coordinates: the stages and :meth:`forward` work in MMPose's normalised input coordinates; crop centres go to
each map's pixels through :func:`~mmfacealign.models.utils.normalised_to_map` (the one conversion), CropNet
corrections come back from map pixels, and the coordinate losses compare input pixels (the paper's units).
"""
import copy
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList, Predictions
from torch import Tensor, nn

from ..losses import AlignLoss, NormalizedL2Loss
from ..utils.coordinates import normalised_to_pixels
from ..utils.patch_sampling import map_offsets_to_normalised, normalised_to_map
from ..utils.precision import autocast_on, float32_region
from .base_regression_head import BaseLandmarkRegressionHead

#: Where the Align Loss takes its patches from, see :class:`CropNetHead`.
ALIGN_SOURCES = ('selected', 'level')


@MODELS.register_module()
class CropNetHead(BaseLandmarkRegressionHead):
    """FFLD coarse-to-fine head for ``TopdownPoseEstimator`` (Sec. 3-4).

    Built on :class:`~mmfacealign.models.heads.BaseLandmarkRegressionHead`: flip test, decoding and ``acc_pose``
    are MMPose's ``RegressionHead``'s; this class writes its forward and its per-stage loss terms.

    Refinement on another coarse regressor is a config change: ``coarse_head`` takes any registered head whose
    ``forward(feats)`` returns normalised coordinates (B, K, 2), e.g. MMPose's ``RegressionHead`` (the default),
    ``RLEHead``'s mean, or mmfacealign's ``GCNLandmarkHead`` (then ``coarse_neck=None``, as it reads the map).

    Args:
        num_joints (int): Number of landmarks N.
        coarse_head (dict): The coarse regressor giving ``S0``; its own loss is not used (``coarse_loss`` is).
            Default: MMPose ``RegressionHead`` with ``in_channels=128`` (ResNet18-25%'s last stage).
        coarse_neck (dict, optional): Applied to the coarse input first. Default: MMPose's
            ``GlobalAveragePooling`` (the baseline's pooling before its FC); ``None`` passes the map as it is.
        coarse_in_index (int): Which backbone output feeds the coarse regressor. Default -1 (the last stage).
        stages (sequence of dict): One dict per refinement stage, in order: ``in_index`` (which backbone output
            it crops) and ``in_channels`` (its channels), plus optional overrides of ``cropnet`` for that stage.
            Default: the paper's three stages on ``ResNetWithStem(out_indices=(0, 1, 3))`` of ResNet18-25%:
            3rd level (index 2, 32 channels), 2nd (index 1, 16), 1st (index 0, the stem before max-pooling, 16).
        cropnet (dict): Settings shared by every stage's :class:`~mmfacealign.models.layers.CropNet`
            (``patch_size`` 8, ``selected_channels`` 4, ``channel_selection`` 'grouped', ``mid_channels`` 128,
            ``detach_feature``/``detach_centres`` False: the Table 6 switches, see :meth:`refine`).
        coarse_loss (dict, optional): Loss of ``S0`` (``loss_s0``), in input pixels. Default
            :class:`NormalizedL2Loss` normalised by the outer eye corners of the layout (``'auto'``: 68, 98 or 29
            landmarks; others must set ``norm_indices``) (Eq. 1).
        stage_losses (sequence of dict | None): One loss per refinement stage (``loss_s1``, ``loss_s2``, ...);
            ``None`` switches a stage's term off. Default: MMPose ``MSELoss`` (L2), ``L1Loss``, then
            :class:`AlignLoss` (Sec. 4). Coordinate losses get input pixels and weights (B, K, 1); an
            :class:`AlignLoss` gets patches of the stage's level around the prediction and the ground truth.
        align_source (str): Which patches the Align Loss compares (the paper is ambiguous): ``'selected'``
            (default; the stage's channel-selected patches, as Fig. 5 shows them, the selection applied with its
            weights held fixed so the loss cannot shrink them) or ``'level'`` (the raw level map, all channels).
        decoder (dict): Codec for :meth:`predict`. Default ``RegressionLabel(input_size=(224, 224))``.
        input_size (tuple, optional): Input (w, h). Default: the decoder's.
        init_cfg (dict, optional): Initialisation config. Default None (each module's own; the CropNet FCs start at
            zero, Sec. 6.6).

    Test-time option: ``test_cfg=dict(output_stage=t)`` predicts ``S_t`` instead of the last stage (per-stage
    NME, Table 5); ``flip_test`` works as for ``RegressionHead``.
    """

    def __init__(self,
                 num_joints: int,
                 coarse_head: ConfigType = dict(type='RegressionHead', in_channels=128),
                 coarse_neck: OptConfigType = dict(type='GlobalAveragePooling'),
                 coarse_in_index: int = -1,
                 stages: Sequence[dict] = (dict(in_index=2, in_channels=32), dict(in_index=1, in_channels=16),
                                           dict(in_index=0, in_channels=16)),
                 cropnet: ConfigType = dict(type='CropNet', patch_size=8, selected_channels=4,
                                            channel_selection='grouped', mid_channels=128),
                 coarse_loss: OptConfigType = dict(type='NormalizedL2Loss', norm_indices='auto'),
                 stage_losses: Sequence[OptConfigType] = (dict(type='MSELoss'), dict(type='L1Loss'),
                                                          dict(type='AlignLoss')),
                 align_source: str = 'selected',
                 decoder: OptConfigType = dict(type='RegressionLabel', input_size=(224, 224)),
                 input_size: Optional[Sequence[int]] = None,
                 init_cfg: OptConfigType = None):
        super().__init__(num_joints=num_joints, loss=None, decoder=decoder, input_size=input_size,
                         init_cfg=init_cfg)
        if self.input_size is None:
            raise ValueError('CropNetHead: needs input_size (or a decoder with one)')
        if align_source not in ALIGN_SOURCES:
            raise ValueError(f'CropNetHead: align_source must be one of {ALIGN_SOURCES}, got {align_source!r}')
        if len(stage_losses) != len(stages):
            raise ValueError(f'CropNetHead: stage_losses has {len(stage_losses)} entries for {len(stages)} stages '
                             '(use None to switch a stage loss off)')
        self.align_source = align_source
        self.coarse_in_index = coarse_in_index

        coarse_head = dict(coarse_head)
        coarse_head.setdefault('num_joints', num_joints)
        self.coarse_head = MODELS.build(coarse_head)
        self.coarse_neck = MODELS.build(coarse_neck) if coarse_neck is not None else None

        self.stage_in_indices: List[int] = []
        self.cropnets = nn.ModuleList()
        for t, stage in enumerate(stages, start=1):
            stage = dict(stage)
            for key in ('in_index', 'in_channels'):
                if key not in stage:
                    raise ValueError(f'CropNetHead: stages[{t - 1}] (stage {t}) needs {key!r}')
            self.stage_in_indices.append(int(stage.pop('in_index')))
            cfg = dict(cropnet)
            cfg.update(stage)
            cfg['num_joints'] = num_joints
            self.cropnets.append(MODELS.build(cfg))

        self.coarse_loss = MODELS.build(coarse_loss) if coarse_loss is not None else None
        if isinstance(self.coarse_loss, NormalizedL2Loss):
            try:                                    # 'auto' needs a known layout: fail at build, not mid-training
                indices = self.coarse_loss.resolve_indices(num_joints)
            except ValueError as err:
                raise ValueError(f'CropNetHead: coarse_loss: {err}') from err
            if indices is not None and max(indices) >= num_joints:
                raise ValueError(f'CropNetHead: coarse_loss.norm_indices {tuple(indices)} are out of range for '
                                 f'num_joints={num_joints} (a config inherited with another landmark count?); '
                                 "use norm_indices='auto' or the layout's outer eye corners")
        self.stage_losses = nn.ModuleList([MODELS.build(c) if c is not None else nn.Identity() for c in stage_losses])
        self._stage_loss_on = [c is not None for c in stage_losses]
        self._output_stage: Optional[int] = None
        self.frozen_stages = self._freeze_stages_without_gradient()

    def _freeze_stages_without_gradient(self) -> List[int]:
        """Stages whose CropNet no loss reaches: ``requires_grad=False``, so that DDP (which by default stops at
        parameters without gradient) can train the rest. Stage ``t`` is reached by its own loss, or by a later
        stage's loss through the locations ``S_t`` (no stage in between with ``detach_centres=True``)."""
        frozen, reached = [], False
        for t in range(self.num_stages, 0, -1):
            if t < self.num_stages and self.cropnets[t].detach_centres is True:
                reached = False                     # stage t + 1 refines a detached S_t
            reached = reached or self._stage_loss_on[t - 1]
            if not reached:
                self.cropnets[t - 1].requires_grad_(False)
                frozen.append(t)
        if frozen:
            print_log(f'CropNetHead: no loss reaches the CropNet of stage(s) {sorted(frozen)} (stage_losses None, '
                      'and no later loss through the locations); frozen (requires_grad=False)',
                      logger='current', level=logging.WARNING)
        return sorted(frozen)

    @staticmethod
    def benchmark_reference(model_cfg) -> Tuple[dict, str]:
        """The network FFLD is measured against (``tools/analysis_tools/benchmark_model.py --reference-head``):
        the same model without refinement stages (its coarse regressor alone, the paper's baseline). Returns
        (model config, row label)."""
        ref = copy.deepcopy(model_cfg)
        ref.head.stages = []
        ref.head.stage_losses = []
        return ref, 'no refinement reference'

    @property
    def num_stages(self) -> int:
        return len(self.cropnets)

    # ---------------------------------------------------------------------------------------------------- forward
    def _level(self, feats: Sequence[Tensor], index: int, what: str) -> Tensor:
        n = len(feats)
        if not -n <= index < n:
            raise ValueError(f'CropNetHead: {what} reads backbone output {index}, but the backbone gave {n} maps '
                             f'(shapes {[tuple(f.shape[1:]) for f in feats]}); check backbone.out_indices / '
                             f'stem_out and the head\'s stages[].in_index')
        return feats[index]

    def coarse(self, feats: Sequence[Tensor]) -> Tensor:
        """``S0`` (B, K, 2), normalised coordinates, from the coarse regressor."""
        x = (self._level(feats, self.coarse_in_index, 'the coarse regressor'), )
        if self.coarse_neck is not None:
            x = self.coarse_neck(x)
        amp = autocast_on(x[0])
        with float32_region(x[0]):                  # S0 in float32 under autocast (utils/precision.py)
            s0 = self.coarse_head(tuple(t.float() for t in x) if amp else x)
        if s0.shape[-2:] != (self.num_joints, 2):
            raise ValueError(f'CropNetHead: coarse_head returned {tuple(s0.shape)}, expected (B, '
                             f'{self.num_joints}, 2) normalised coordinates')
        return s0

    def refine(self, feats: Sequence[Tensor], shape: Tensor, t: int) -> Tensor:
        """Stage ``t`` (1-based): ``S_t = S_{t-1} + dS_t``, all normalised (B, K, 2).

        With the stage's ``detach_centres=True`` (Table 6, no back-propagation to the locations) ``S_{t-1}`` is
        detached for the crop AND the skip, so the stage's losses reach no earlier stage through the locations;
        ``'grid'`` detaches the crop's sampling grid only."""
        fmap = self._level(feats, self.stage_in_indices[t - 1], f'stage {t}')
        height, width = fmap.shape[-2:]
        cropnet = self.cropnets[t - 1]
        if cropnet.detach_centres is True:
            shape = shape.detach()
        centres = normalised_to_map(shape, (height, width))
        delta = cropnet(fmap, centres, name=f'CropNetHead stage {t}')    # map pixels
        if autocast_on(fmap):
            delta = delta.float()                   # S_t stays float32 under autocast (utils/precision.py)
        # a zero correction returns S_{t-1} exactly
        return shape + map_offsets_to_normalised(delta, (height, width))

    def forward_stages(self, feats: Sequence[Tensor], num_stages: Optional[int] = None) -> List[Tensor]:
        """``[S0, S1, ..., S_T]`` (T = ``num_stages``, default all), each (B, K, 2) in normalised coordinates."""
        shapes = [self.coarse(feats)]
        for t in range(1, (self.num_stages if num_stages is None else num_stages) + 1):
            shapes.append(self.refine(feats, shapes[-1], t))
        return shapes

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """The last stage's shape (or ``S_t`` with ``test_cfg.output_stage=t`` during :meth:`predict`)."""
        return self.forward_stages(feats, self._output_stage)[-1]

    def predict(self, feats, batch_data_samples: OptSampleList, test_cfg: ConfigType = {}) -> Predictions:
        """``RegressionHead.predict`` (flip test, decoding); ``test_cfg.output_stage`` picks the stage."""
        stage = test_cfg.get('output_stage', None)
        if stage is not None and not 0 <= int(stage) <= self.num_stages:
            raise ValueError(f'CropNetHead: test_cfg.output_stage must be in [0, {self.num_stages}], got {stage}')
        self._output_stage = None if stage is None else int(stage)
        try:
            return super().predict(feats, batch_data_samples, test_cfg)
        finally:
            self._output_stage = None

    # ---------------------------------------------------------------------------------------------------- losses
    def loss_terms(self, feats: Tuple[Tensor], labels: Tensor, weights: Tensor,
                   batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> Tuple[Tensor, Dict[str, Tensor]]:
        """``loss_s0`` .. ``loss_sT``, one per stage whose loss is configured (Sec. 4)."""
        size = self.check_input_size(batch_data_samples)
        shapes = self.forward_stages(feats)
        gt_px = normalised_to_pixels(labels, size)
        w = weights.unsqueeze(-1)
        losses = {}
        if self.coarse_loss is not None:
            losses['loss_s0'] = self.coarse_loss(normalised_to_pixels(shapes[0], size), gt_px, w)
        for t in range(1, self.num_stages + 1):
            if not self._stage_loss_on[t - 1]:
                continue
            loss = self.stage_losses[t - 1]
            if isinstance(loss, AlignLoss):
                losses[f'loss_s{t}'] = self._align_loss(loss, feats, shapes[t], labels, weights, t)
            else:
                losses[f'loss_s{t}'] = loss(normalised_to_pixels(shapes[t], size), gt_px, w)
        return shapes[-1], losses

    def _align_loss(self, loss: AlignLoss, feats: Sequence[Tensor], shape: Tensor, labels: Tensor,
                    weights: Tensor, t: int) -> Tensor:
        """Align Loss of stage ``t``: patches of its level at the prediction ``S_t`` and at the ground truth."""
        fmap = self._level(feats, self.stage_in_indices[t - 1], f'stage {t}')
        size = fmap.shape[-2:]
        pred_c, gt_c = normalised_to_map(shape, size), normalised_to_map(labels, size)
        if self.align_source == 'level':
            return loss(fmap, pred_c, gt_c, weights)
        cropnet = self.cropnets[t - 1]
        pred_p, gt_p = loss.crop_pair(fmap, pred_c, gt_c, name=f'CropNetHead stage {t} Align Loss')
        return loss.patch_loss(cropnet.select_channels(pred_p, detach_weights=True),
                               cropnet.select_channels(gt_p, detach_weights=True), weights)
