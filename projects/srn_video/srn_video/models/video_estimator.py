# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN on video clips: the RNN state carried from frame to frame (Eq. 13) and occlusion synthesis (Sec. 3.2).

Zhu et al., "Reasoning Structural Relation for Occlusion-Robust Facial Landmark Localization", Pattern Recognition
2022, Sec. 3.2 ("Tracker") and Eq. 13: in video mode SRN re-tasks its RNN memory: the hidden state ``h`` of
frame ``t`` is computed from the frame's CNN features and ``h`` of frame ``t - 1``; the initial shape (the mean shape
in the face box) and the number of cascade iterations stay as for images. Fine-tuning on (hard) occluded clips
therefore unrolls the cascade over a clip's frames with ``h`` carried, and back-propagates through it (truncated at
the clip's ends).

A batch holds ``B`` clips of ``L`` frames, flattened clip-major to ``B * L`` frames by the ``clip_collate`` function
of :class:`~srn_video.datasets.FaceVideoClipDataset` (frames of clip 0 first, in time order).
Every frame's data sample carries ``frame_in_clip``; the estimator checks the order and recovers ``L`` from it.

Training (:meth:`loss`):

1. the clip images (B, L, 3, H, W) and ground truth (B, L, N, 2) go to the occlusion synthesizer, if one is
   configured (``NoOcclusion``, ``RandomOcclusionSynthesis``: Table 9's RSF, or ``HOFSSynthesizer``: the deep
   Q-learning of Sec. 3.2), which returns the occluded clip and its own loss terms (``loss_q`` of HOFS, Eq. 12);
2. the SRN head runs frame after frame with ``h`` carried; ``loss_kpt`` is the head's loss (Eq. 8) over all frames.

HOFS's reward (Eq. 10) is the NME of the *frozen pre-trained* SRN on the synthesised frame: ``reward_model`` is a
frozen copy of the backbone and head, taken when fine-tuning starts by
:class:`~srn_video.engine.HOFSInitHook` (which also initialises the Q-net from the pre-trained
patch CNN). Both are submodules, so checkpoints keep them and a resumed run goes on with the same frozen model.

Testing (:meth:`predict`): frames of a clip are predicted in order with ``h`` carried (``carry_hidden=False``
treats them as independent images). The flip test is not applied (``test_cfg.flip_test`` must be False: a flipped
stream would need its own hidden state).
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MessageHub
from mmpose.models import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor, nn

from mmfacealign.models.utils.coordinates import normalised_to_pixels


@MODELS.register_module()
class SRNVideoEstimator(TopdownPoseEstimator):
    """``TopdownPoseEstimator`` for clips with an ``SRNHead``: hidden state carried over frames, occlusion synthesis.

    Args:
        backbone, neck, head, train_cfg, test_cfg, data_preprocessor, init_cfg, metainfo: as
            ``TopdownPoseEstimator``. ``head`` must be mmfacealign's ``SRNHead`` (it has ``forward_iterations``).
        occlusion_synthesis (dict, optional): The synthesizer (``NoOcclusion``, ``RandomOcclusionSynthesis`` or
            ``HOFSSynthesizer``), built from ``MODELS`` with the data preprocessor's ``mean`` and ``std`` filled in
            where it takes them. Default None: no synthesis (Table 9's "w/o occlusion augmentation").
        carry_hidden (bool): Carry the RNN state from frame to frame (Eq. 13). Default True (the paper's video mode);
            False runs every frame as an independent image (to measure what the carried state does).
        q_only_iters (int): Iterations at the start of fine-tuning in which only the synthesizer's own losses (the
            Q-net's ``loss_q``) are trained and SRN is not updated (its loss is logged as ``srn_nme`` instead), so
            that the Q-net learns which occlusions are hard before SRN adapts to them. Default 0 (the paper does not
            say; HOFS configs set it).

    Shapes: ``inputs`` (B * L, 3, H, W); per frame ``SRNHead`` shapes (B, T, N, 2).
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 occlusion_synthesis: OptConfigType = None,
                 carry_hidden: bool = True,
                 q_only_iters: int = 0,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg, metainfo=metainfo)
        if not hasattr(self.head, 'forward_iterations'):
            raise TypeError(f'SRNVideoEstimator: model.head must be an SRNHead (with forward_iterations), got '
                            f'{type(self.head).__name__}')
        if self.test_cfg.get('flip_test', False):
            raise ValueError('SRNVideoEstimator: set model.test_cfg.flip_test=False (a flipped clip would need its '
                             'own carried hidden state; the tracker does not flip either)')
        if q_only_iters < 0:
            raise ValueError(f'SRNVideoEstimator: q_only_iters must be >= 0, got {q_only_iters}')
        if q_only_iters and (occlusion_synthesis is None
                             or not hasattr(MODELS.get(occlusion_synthesis['type']), 'init_from_srn')):
            raise ValueError('SRNVideoEstimator: q_only_iters needs an occlusion_synthesis with a loss of its own '
                             '(HOFSSynthesizer)')
        self.carry_hidden = bool(carry_hidden)
        self.q_only_iters = int(q_only_iters)
        self.occlusion_synthesis = None
        if occlusion_synthesis is not None:
            cfg = dict(occlusion_synthesis)
            self.occlusion_synthesis = MODELS.build(self._with_norm(cfg))
        # HOFS's frozen reward model (Eq. 10): built now, so that a resumed checkpoint's copy loads into it; its
        # weights are taken from the pre-trained SRN by HOFSInitHook (init_reward_model), which sets hofs_ready
        self.reward_model: Optional[nn.Module] = None
        if self.occlusion_synthesis is not None and hasattr(self.occlusion_synthesis, 'init_from_srn'):
            self.init_reward_model()
        self.register_buffer('hofs_ready', torch.tensor(False))
        # counts training iterations, so that the Q-only phase survives a resume (kept in checkpoints)
        self.register_buffer('train_iters', torch.zeros((), dtype=torch.long))

    def _with_norm(self, cfg: dict) -> dict:
        """Fill the synthesizer's ``mean`` / ``std`` from the data preprocessor when it takes them and lacks them."""
        cls = MODELS.get(cfg['type'])
        if cls is None:
            raise KeyError(f"SRNVideoEstimator: occlusion_synthesis type {cfg['type']!r} is not registered "
                           "(is srn_video in custom_imports, with projects/srn_video on PYTHONPATH?)")
        import inspect
        params = inspect.signature(cls.__init__).parameters
        pre = self.data_preprocessor
        for key in ('mean', 'std'):
            if key in params and key not in cfg and getattr(pre, key, None) is not None:
                cfg[key] = getattr(pre, key).flatten().tolist()
        return cfg

    # ------------------------------------------------------------------------------------------------ reward model
    def init_reward_model(self) -> None:
        """Freeze a copy of the current backbone, neck and head as HOFS's reward model (Eq. 10).

        The first call (at build) makes the copy; later calls (:class:`HOFSInitHook`, after ``load_from``) copy
        the current weights into it, so the optimiser, built in between from the model's parameters, refers to
        the one frozen copy the model holds, not to a replaced one kept alive (a model's worth of memory)."""
        parts = dict(backbone=self.backbone, head=self.head)
        if self.with_neck:
            parts['neck'] = self.neck
        if self.reward_model is None:
            self.reward_model = nn.ModuleDict({k: copy.deepcopy(v) for k, v in parts.items()})
        else:
            with torch.no_grad():
                for k, v in parts.items():
                    self.reward_model[k].load_state_dict(v.state_dict())
        self.reward_model.requires_grad_(False)
        self.reward_model.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.reward_model is not None:
            self.reward_model.eval()
        return self

    def _reward_step(self, image: Tensor, hidden: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """The frozen model on one frame (B, 3, H, W) with its carried state -> (shape (B, N, 2), hidden)."""
        m = self.reward_model
        with torch.no_grad():
            feats = m['backbone'](image)
            if 'neck' in m:
                feats = m['neck'](feats)
            shapes, hidden = m['head'].forward_iterations(feats, hidden=hidden, return_hidden=True)
        return shapes[:, -1], hidden

    # ------------------------------------------------------------------------------------------------------ clips
    @staticmethod
    def clip_length(data_samples: SampleList) -> int:
        """``L`` from the samples' ``frame_in_clip`` (0..L-1 repeated, clip-major); errors name what is wrong."""
        if not data_samples or 'frame_in_clip' not in data_samples[0].metainfo:
            raise KeyError('SRNVideoEstimator: the data samples have no "frame_in_clip" meta: use a '
                           'FaceVideoClipDataset with collate_fn=dict(type="clip_collate") and add "frame_in_clip" '
                           'to PackPoseInputs(meta_keys=...)')
        idx = [int(d.metainfo['frame_in_clip']) for d in data_samples]
        length = max(idx) + 1
        if len(idx) % length or idx != list(range(length)) * (len(idx) // length):
            raise ValueError(f'SRNVideoEstimator: frames are not in clip-major order (frame_in_clip = {idx[:12]}...): '
                             'use collate_fn=dict(type="clip_collate")')
        return length

    def _run_clip(self, images: Tensor) -> Tensor:
        """SRN over a clip (B, L, 3, H, W) frame by frame -> every iteration's shapes (B, L, T, N, 2)."""
        hidden = None
        out: List[Tensor] = []
        for t in range(images.shape[1]):
            feats = self.extract_feat(images[:, t])
            shapes, h = self.head.forward_iterations(feats, hidden=hidden, return_hidden=True)
            hidden = h if self.carry_hidden else None
            out.append(shapes)
        return torch.stack(out, dim=1)

    def _iteration(self) -> int:
        return int(self.train_iters)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """``loss_kpt`` (Eq. 8 over every frame and cascade iteration) plus the synthesizer's terms (``loss_q``)."""
        length = self.clip_length(data_samples)
        n, c, h, w = inputs.shape
        images = inputs.view(n // length, length, c, h, w)
        labels, weights = self.head.gather_targets(data_samples)                # (B * L, N, 2), (B * L, N)
        losses: Dict[str, Tensor] = {}
        if self.occlusion_synthesis is not None:
            if self.reward_model is not None and not bool(self.hofs_ready):
                raise RuntimeError('SRNVideoEstimator: HOFS needs its frozen reward model and Q-net taken from the '
                                   'pre-trained SRN before training: add dict(type="HOFSInitHook") to the config\'s '
                                   'custom_hooks (and set load_from)')
            gt = labels.view(n // length, length, *labels.shape[1:])
            clip_ids = [data_samples[i * length].metainfo.get('clip_index', i) for i in range(n // length)]
            reward = self._reward_step if self.reward_model is not None else None
            images, synth_losses, stats = self.occlusion_synthesis.synthesize(images, gt, reward, clip_ids)
            losses.update(synth_losses)
            hub = MessageHub.get_current_instance()
            for key, value in stats.items():
                hub.update_scalar(f'train/{key}', float(value))
        q_only = self.training and self._iteration() < self.q_only_iters
        if self.training:
            self.train_iters += 1
        size = self.head.check_input_size(data_samples)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not q_only):
            shapes = self._run_clip(images).flatten(0, 1)                           # (B * L, T, N, 2)
            loss = self.head.loss_module(normalised_to_pixels(shapes, size), normalised_to_pixels(labels, size),
                                         weights)
        if q_only:
            losses['srn_nme'] = loss.detach()                 # logged, not summed into the loss (no "loss" in it)
        else:
            losses['loss_kpt'] = loss
        losses['acc_pose'] = self.head.pck_accuracy(shapes[:, -1], labels, weights)
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Per-frame landmarks with the state carried over each clip; flip test not applied."""
        length = self.clip_length(data_samples)
        n, c, h, w = inputs.shape
        shapes = self._run_clip(inputs.view(n // length, length, c, h, w))[:, :, -1].flatten(0, 1)
        preds = self.head.decode(shapes[:, None].detach())                    # (B * L, 1, N, 2), as RegressionHead
        return self.add_pred_to_datasample(preds, None, data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptConfigType = None):
        return self._run_clip(inputs[None])[0, :, -1]
