# Copyright (c) mmfacealign contributors. All rights reserved.
"""A per-landmark occlusion output beside any landmark head: :class:`OcclusionPredictHead`.

MMPose's :class:`~mmpose.models.heads.VisPredictHead` wraps a pose head and adds a visibility branch (global
average pooling of the last feature map, one linear layer, BCE). This head keeps its interface (``pose_cfg``, a
BCE loss, flip test by permuting the per-landmark outputs with ``flip_indices``) and departs from it where a face
landmark model needs it:

* **Labels.** ``VisPredictHead`` learns ``keypoint_weights``, i.e. MMPose's ``keypoints_visible``, which marks the
  *labelled* points (COCO ``v > 0``), not the occluded ones. Here the label is mmfacealign's ``keypoints_occluded``
  meta key ``(1, K)`` (1 = occluded; SynthFace's exact flags, COFW's annotation, the flags the occlusion
  transforms add), which follows horizontal flips like the keypoints (mmfacealign's ``RandomFlip``).
  ``keypoint_weights`` weighs the loss: points that are not labelled or fall outside the crop teach nothing.
* **Features.** ``features='pooled'`` is ``VisPredictHead``'s branch (global average pooling of
  ``feats[in_index]``, or the vector itself, one linear layer to K logits). Occlusion is local, so
  ``features='landmark'`` reduces the feature map to ``reduce_channels`` by a 1x1 convolution, samples for each
  landmark a ``patch_size x patch_size`` bilinear crop of it at the landmark
  (:func:`~mmfacealign.models.utils.crop_patches`), maps the crop through a shared two-layer MLP and scores it
  with landmark ``k``'s own linear classifier. The crop centres are the ground-truth landmarks in
  training (``train_centres='gt'``: no extra forward of the pose head; ``'pred'`` uses the pose head's own
  prediction, one more forward of it) and the pose head's prediction at test time.
* **Pose head input.** ``pose_feats='pooled'`` gives the pose head the global average of every feature map (the
  ``GlobalAveragePooling`` neck) while the occlusion branch sees the maps: with ``neck=None`` the pose path is the
  one of a config with that neck, and the landmark features have a map to sample.
* **Output.** ``pred_instances.keypoints_occluded`` (N, K): the probability that each landmark is occluded
  (``keypoint_scores`` stay the pose head's). With flip test the probabilities of the original and the flipped
  image are averaged after permuting the flipped ones with ``flip_indices`` (as ``VisPredictHead``).

* **Checkpoints.** A checkpoint of the same model *without* the output (the wrapped head's parameters directly
  under ``head.``) loads into this head: its keys move under ``head.pose_head.`` and the occlusion branch keeps
  its initialisation, so ``load_from`` a trained landmark model and training the branch alone (a frozen
  backbone and pose head) adds the output to it without changing its landmarks.

Losses: the pose head's own (``loss_kpt`` ...), plus ``loss_occ`` (BCE on the logits) and ``acc_occ`` (accuracy
at probability 0.5 on the weighted points).
"""
import copy
from typing import Optional, Sequence, Tuple

import torch
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_coordinates, flip_visibility
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList, Predictions
from torch import Tensor, nn

from ..utils.patch_sampling import CELL_CENTRES, crop_patches, normalised_to_map

FEATURES = ('pooled', 'landmark')
POSE_FEATS = ('same', 'pooled')
TRAIN_CENTRES = ('gt', 'pred')


def _pool(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C) by global averaging; (B, C) unchanged."""
    return x.mean(dim=(2, 3)) if x.dim() == 4 else x


def gather_occlusion_labels(batch_data_samples: OptSampleList, num_joints: int) -> Tuple[Tensor, Tensor]:
    """``(occluded (B, K) float, weights (B, K) float)`` from packed samples: the ``keypoints_occluded`` meta key
    and the ``keypoint_weights`` of the pose labels. A sample without the key is a ``KeyError`` that says where it
    must come from."""
    occluded, weights = [], []
    for i, d in enumerate(batch_data_samples):
        flags = d.metainfo.get('keypoints_occluded', None)
        if flags is None:
            raise KeyError(
                f"OcclusionPredictHead: sample {i} ({d.metainfo.get('img_path', 'no img_path')}) carries no "
                "'keypoints_occluded': the occlusion output trains from it; add 'keypoints_occluded' to "
                'PackPoseInputs(meta_keys=...) and use a dataset that gives occlusion flags (SynthFace, COFW)')
        w = d.gt_instance_labels.keypoint_weights
        flags = torch.as_tensor(flags, dtype=torch.float32, device=w.device).reshape(1, -1)
        if flags.shape[1] != num_joints:
            raise ValueError(f'OcclusionPredictHead: sample {i} has {flags.shape[1]} occlusion flags for '
                             f'{num_joints} landmarks')
        occluded.append(flags)
        weights.append(w.float().reshape(1, -1))
    return torch.cat(occluded), torch.cat(weights)


def landmark_head(head: nn.Module) -> nn.Module:
    """The landmark head itself: ``head.pose_head`` for an :class:`OcclusionPredictHead`, else ``head`` (for hooks
    and tools that talk to a method's head, e.g. to set SRN's mean shape)."""
    return head.pose_head if isinstance(head, OcclusionPredictHead) else head


@MODELS.register_module()
class OcclusionPredictHead(BaseHead):
    """Any landmark head plus a per-landmark occlusion probability (see the module docstring).

    Args:
        pose_cfg (dict): The wrapped landmark head (any head of MMPose or mmfacealign whose ``forward`` gives
            normalised coordinates (B, K, 2) and whose ``predict`` decodes them).
        features (str): ``'pooled'`` (``VisPredictHead``'s global pooling) or ``'landmark'`` (features sampled at
            each landmark). Default ``'pooled'``.
        in_index (int): The feature level of the occlusion branch. Default -1 (the last).
        in_channels (int, optional): Channels of ``feats[in_index]``. Default: ``pose_cfg['in_channels']``.
        pose_feats (str): ``'same'`` (the pose head sees ``feats`` as they are) or ``'pooled'`` (the global
            average of every 4-D feature, as the ``GlobalAveragePooling`` neck gives). Default ``'same'``.
        patch_size (int): Crop side in feature-map pixels (``'landmark'``). Default 3.
        reduce_channels (int, optional): Channels of the 1x1 convolution before the crop (``'landmark'``); None
            crops the map as it is. Default 32.
        hidden_channels (int): Width of the shared MLP (``'landmark'``). Default 64.
        train_centres (str): Crop centres in training (``'landmark'``): ``'gt'`` or ``'pred'``. Default ``'gt'``.
        cell_centre (str): Feature-map cell convention of :func:`normalised_to_map`. Default ``'conv'`` (ResNet).
        input_size (tuple, optional): Input (w, h), needed by ``cell_centre='area'``. Default: the pose head's
            decoder's ``input_size``.
        loss (dict): The occlusion loss on logits. Default ``BCELoss(use_target_weight=True, use_sigmoid=False)``
            (MMPose's ``use_sigmoid=False``: the input is logits).
        init_cfg (dict, optional): Default None: the occlusion classifiers start from ``Normal(std=0.01)``
            weights and zero biases (``VisPredictHead``'s init); the pose head keeps its own initialisation.
    """

    def __init__(self,
                 pose_cfg: ConfigType,
                 features: str = 'pooled',
                 in_index: int = -1,
                 in_channels: Optional[int] = None,
                 pose_feats: str = 'same',
                 patch_size: int = 3,
                 reduce_channels: Optional[int] = 32,
                 hidden_channels: int = 64,
                 train_centres: str = 'gt',
                 cell_centre: str = 'conv',
                 input_size: Optional[Sequence[int]] = None,
                 loss: ConfigType = dict(type='BCELoss', use_target_weight=True, use_sigmoid=False),
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg)
        for name, value, allowed in (('features', features, FEATURES), ('pose_feats', pose_feats, POSE_FEATS),
                                     ('train_centres', train_centres, TRAIN_CENTRES),
                                     ('cell_centre', cell_centre, CELL_CENTRES)):
            if value not in allowed:
                raise ValueError(f'OcclusionPredictHead: model.head.{name} must be one of {allowed}, got {value!r}')
        if loss.get('use_sigmoid', False):
            # MMPose's BCELoss(use_sigmoid=True) expects probabilities (a head ending in a Sigmoid); this one gives
            # logits, for binary_cross_entropy_with_logits
            raise ValueError('OcclusionPredictHead: loss.use_sigmoid must be False (the branch outputs logits)')
        self.pose_head = MODELS.build(pose_cfg)
        self.num_joints = int(pose_cfg.get('num_joints', getattr(self.pose_head, 'num_joints', 0)) or 0)
        if self.num_joints <= 0:
            raise ValueError("OcclusionPredictHead: pose_cfg needs 'num_joints'")
        in_channels = in_channels if in_channels is not None else pose_cfg.get('in_channels', None)
        if in_channels is None:
            raise ValueError("OcclusionPredictHead: give in_channels (the channels of feats[in_index]); pose_cfg "
                             "has no 'in_channels'")
        self.in_channels = int(in_channels)
        self.features, self.in_index, self.pose_feats = features, int(in_index), pose_feats
        self.patch_size, self.train_centres, self.cell_centre = int(patch_size), train_centres, cell_centre
        if input_size is None:
            input_size = (pose_cfg.get('decoder') or {}).get('input_size', None)
        self.input_size = tuple(int(v) for v in input_size) if input_size is not None else None
        if cell_centre == 'area' and self.input_size is None:
            raise ValueError("OcclusionPredictHead: cell_centre='area' needs model.head.input_size (or a decoder "
                             'with input_size in pose_cfg)')
        self.loss_module = MODELS.build(loss)
        k = self.num_joints
        if features == 'pooled':
            self.occ_fc = nn.Linear(self.in_channels, k)
        else:
            self.occ_reduce = nn.Conv2d(self.in_channels, reduce_channels, 1) if reduce_channels else nn.Identity()
            crop_channels = int(reduce_channels) if reduce_channels else self.in_channels
            self.occ_mlp = nn.Sequential(
                nn.Linear(crop_channels * self.patch_size**2, hidden_channels), nn.ReLU(inplace=True),
                nn.Linear(hidden_channels, hidden_channels), nn.ReLU(inplace=True))
            # landmark k's own classifier: logit_k = <w_k, h_k> + b_k
            self.occ_weight = nn.Parameter(torch.zeros(k, hidden_channels))
            self.occ_bias = nn.Parameter(torch.zeros(k))

        self._init_branch()
        self._register_load_state_dict_pre_hook(self._load_pose_head_checkpoint)

    def _load_pose_head_checkpoint(self, state_dict, prefix, *args) -> None:
        """``load_state_dict`` pre-hook: a checkpoint of the wrapped head alone (keys ``prefix + name`` with no
        ``prefix + 'pose_head.'`` among them, e.g. a plain baseline's ``head.fc.weight``) gets its keys moved
        under ``prefix + 'pose_head.'``; the occlusion branch's keys are then missing and keep their
        initialisation (mmengine's ``load_from`` reports them)."""
        own = [k for k in state_dict if k.startswith(prefix)]
        if not own or any(k.startswith(prefix + 'pose_head.') for k in own):
            return
        branch = tuple(prefix + n for n in ('occ_', 'loss_module.'))
        for k in own:
            if not k.startswith(branch):
                state_dict[prefix + 'pose_head.' + k[len(prefix):]] = state_dict.pop(k)

    @property
    def default_init_cfg(self):
        return None

    @staticmethod
    def benchmark_reference(model_cfg) -> Tuple[dict, str]:
        """The network this head is measured against (``tools/analysis_tools/benchmark_model.py --reference-head``):
        the same model without the occlusion output (the wrapped head alone, with the ``GlobalAveragePooling`` neck
        when ``pose_feats='pooled'``). Returns (model config, row label)."""
        ref = copy.deepcopy(model_cfg)
        ref.head = copy.deepcopy(model_cfg.head.pose_cfg)
        if model_cfg.head.get('pose_feats', 'same') == 'pooled':
            ref.neck = dict(type='GlobalAveragePooling')
        return ref, 'without occlusion output'

    def _init_branch(self) -> None:
        """The classifiers (``occ_fc``; ``occ_weight``, ``occ_bias``) start from ``Normal(std=0.01)`` weights and
        zero biases (``VisPredictHead``'s init of its one linear layer): every probability starts near 0.5. The
        reduction and the MLP keep PyTorch's default initialisation; the pose head initialises itself through its
        own ``init_weights``."""
        if self.features == 'pooled':
            nn.init.normal_(self.occ_fc.weight, std=0.01)
            nn.init.zeros_(self.occ_fc.bias)
        else:
            nn.init.normal_(self.occ_weight, std=0.01)
            nn.init.zeros_(self.occ_bias)

    # ---------------------------------------------------------------------------------------------- forward
    def _pose_input(self, feats: Tuple[Tensor]) -> Tuple[Tensor]:
        return tuple(_pool(f) for f in feats) if self.pose_feats == 'pooled' else feats

    def occlusion_logits(self, feats: Tuple[Tensor], centres: Optional[Tensor] = None) -> Tensor:
        """Occlusion logits (B, K).

        Args:
            feats (tuple[Tensor]): Multi-level features; ``feats[in_index]`` is (B, C, H, W) (or (B, C) for
                ``'pooled'``).
            centres (Tensor, optional): (B, K, 2) landmarks in normalised input coordinates (``'landmark'``).
        """
        if not -len(feats) <= self.in_index < len(feats):
            raise IndexError(f'OcclusionPredictHead: model.head.in_index={self.in_index}, but the backbone/neck give '
                             f'{len(feats)} feature level(s)')
        x = feats[self.in_index]
        if x.dim() < 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'OcclusionPredictHead: feats[{self.in_index}] has shape {tuple(x.shape)}, '
                             f'model.head.in_channels={self.in_channels} expects {self.in_channels} channels')
        if self.features == 'pooled':
            return self.occ_fc(_pool(x))
        if x.dim() != 4:
            raise ValueError(f"OcclusionPredictHead: features='landmark' samples a feature map, but feats"
                             f'[{self.in_index}] has shape {tuple(x.shape)}; use a config without the pooling neck '
                             "(neck=None and pose_feats='pooled')")
        uv = normalised_to_map(centres.detach().to(x.dtype), x.shape[-2:], self.input_size, self.cell_centre)
        # the centres are the model's own (detached) landmarks or the ground truth: a non-finite one gives a
        # non-finite logit, not a wrong read, so the crop skips its finiteness check (a host read per call)
        patches = crop_patches(self.occ_reduce(x), uv, self.patch_size, name='OcclusionPredictHead',
                               check_finite=False)                                    # (B, K, C', p, p)
        hidden = self.occ_mlp(patches.flatten(2))                                     # (B, K, hidden)
        return torch.einsum('bkh,kh->bk', hidden, self.occ_weight) + self.occ_bias

    def forward(self, feats: Tuple[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(coordinates (B, K, 2), occlusion logits (B, K))``; the landmark features are taken at the predicted
        coordinates (what inference does)."""
        coords = self.pose_head.forward(self._pose_input(feats))
        return coords, self.occlusion_logits(feats, coords)

    # ---------------------------------------------------------------------------------------------- predict
    def predict(self, feats, batch_data_samples: OptSampleList, test_cfg: ConfigType = {}) -> Predictions:
        """The pose head's predictions with ``keypoints_occluded`` (N=1, K) probabilities added to each.

        With ``flip_test`` ``feats`` is ``[feats, feats of the flipped image]``; the flipped image's probabilities
        are permuted back with ``flip_indices`` and averaged with the original's (as ``VisPredictHead``)."""
        flip = test_cfg.get('flip_test', False)
        pose_in = [self._pose_input(f) for f in feats] if flip else self._pose_input(feats)
        preds = self.pose_head.predict(pose_in, batch_data_samples, test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds, None)
        centres = None
        if self.features == 'landmark':
            size = torch.tensor([list(d.metainfo['input_size']) for d in batch_data_samples], dtype=torch.float32)
            kpts = torch.stack([torch.as_tensor(inst.keypoints[0], dtype=torch.float32) for inst in instances])
            centres = kpts / size[:, None, :]                              # decoded input pixels -> normalised
        if flip:
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            orig, flipped = feats
            flipped_centres = None
            if centres is not None:
                flipped_centres = flip_coordinates(centres.clone(), flip_indices, test_cfg.get('shift_coords', True),
                                                   batch_data_samples[0].metainfo['input_size'])
                flipped_centres = flipped_centres.to(orig[self.in_index].device)
                centres = centres.to(orig[self.in_index].device)
            prob = (torch.sigmoid(self.occlusion_logits(orig, centres))
                    + flip_visibility(torch.sigmoid(self.occlusion_logits(flipped, flipped_centres)),
                                      flip_indices)) * 0.5
        else:
            if centres is not None:
                centres = centres.to(feats[self.in_index].device)
            prob = torch.sigmoid(self.occlusion_logits(feats, centres))
        for inst, p in zip(instances, to_numpy(prob.float(), unzip=True)):
            inst.keypoints_occluded = p[None]
        return (instances, fields) if isinstance(preds, tuple) else instances

    # ---------------------------------------------------------------------------------------------- training
    def loss(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> dict:
        """The pose head's losses plus ``loss_occ`` and ``acc_occ``."""
        occluded, weights = gather_occlusion_labels(batch_data_samples, self.num_joints)
        pose_in = self._pose_input(feats)
        centres = None
        if self.features == 'landmark':
            if self.train_centres == 'gt':
                centres = torch.cat([d.gt_instance_labels.keypoint_labels for d in batch_data_samples])
            else:
                with torch.no_grad():
                    centres = self.pose_head.forward(pose_in)
            centres = centres.to(feats[self.in_index].device)
        logits = self.occlusion_logits(feats, centres)
        occluded, weights = occluded.to(logits.device), weights.to(logits.device)
        losses = dict(self.pose_head.loss(pose_in, batch_data_samples, train_cfg=train_cfg))
        losses['loss_occ'] = self.loss_module(logits, occluded, weights)
        with torch.no_grad():
            correct = ((logits > 0).float() == occluded).float() * weights
            losses['acc_occ'] = correct.sum() / weights.sum().clamp(min=1)
        return losses


__all__ = ['OcclusionPredictHead', 'gather_occlusion_labels', 'landmark_head', 'FEATURES']
