# Copyright (c) mmfacealign contributors. All rights reserved.
"""HOFS's deep Q-net: the value of a candidate occluded frame, from shape-indexed patches (SRN Sec. 3.2, Eq. 11).

Zhu et al., Pattern Recognition 2022, Sec. 3.2 ("State", "Q-net"): the state of a candidate
action is the set of shape-indexed patches of the candidate occluded face, cropped around the GROUND-TRUTH
landmarks (so the Q-net knows a priori where on the face the occluder sits); the Q-net maps it to one action
value, the highest value marking the hardest candidate. Its CNN is initialised from the pre-trained SRN's patch CNN
(:meth:`HOFSQNet.init_from_srn`; the paper reports the same accuracy from a random initialisation, only slower).

The paper leaves the head open. Here: the patch CNN (same config as the SRN head's, so the weights copy) encodes
every landmark's patch to ``D`` values; a shared MLP ``D -> hidden -> 1`` scores each landmark, ``s_k``; the action
value is a learned weighted sum ``Q = sum_k w_k s_k + b`` with ``w_k = 1 / N`` at the start (a plain mean over
landmarks). A plain mean would pool the landmark identity away; the per-landmark weights let Q say whose
occlusion hurts the frozen model most. The patches are cropped with the shared
:func:`mmfacealign.models.utils.patch_sampling.crop_patches` (bilinear, zero padding), as SRN's.
"""
import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

from mmfacealign.models.utils.patch_sampling import crop_patches, normalised_to_map


@MODELS.register_module()
class HOFSQNet(BaseModule):
    """Action-value network of HOFS (SRN Sec. 3.2).

    Args:
        num_joints (int): Number of landmarks N. Default 68.
        patch_size (int): Side of the square state patches, in input pixels; must equal the SRN head's
            ``patch_size`` for :meth:`init_from_srn`. Default 36 (SRN's, at the 224 input).
        patch_cnn (dict): The :class:`~mmfacealign.models.layers.PatchCNN` config; must equal the SRN head's.
            Default the official one.
        hidden_channels (int): Width of the per-landmark scoring MLP. Default 128.
        init_cfg (dict, optional): mmengine init config.

    Shapes: :meth:`state_patches` ``(images (M, 3, H, W), landmarks (M, N, 2)) -> (M, N, 3, p, p)``;
    ``forward(patches (M, N, 3, p, p)) -> Q (M,)``.
    """

    def __init__(self, num_joints: int = 68, patch_size: int = 36, patch_cnn: ConfigType = dict(type='PatchCNN'),
                 hidden_channels: int = 128, init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        if num_joints < 1 or patch_size < 1 or hidden_channels < 1:
            raise ValueError(f'HOFSQNet: num_joints, patch_size and hidden_channels must be positive, got '
                             f'{num_joints}, {patch_size}, {hidden_channels}')
        self.num_joints = int(num_joints)
        self.patch_size = int(patch_size)
        self.patch_cnn = MODELS.build(patch_cnn)
        out_h, out_w = self.patch_cnn.output_size((self.patch_size, self.patch_size))
        self.feat_dim = self.patch_cnn.out_channels * out_h * out_w
        self.score = nn.Sequential(nn.Linear(self.feat_dim, hidden_channels), nn.ReLU(inplace=True),
                                   nn.Linear(hidden_channels, 1))
        self.landmark_weight = nn.Parameter(torch.full((self.num_joints, ), 1. / self.num_joints))
        self.bias = nn.Parameter(torch.zeros(()))

    def state_patches(self, images: Tensor, landmarks: Tensor) -> Tensor:
        """The state: ``p x p`` patches of the (candidate occluded) images around the ground-truth landmarks.

        Args:
            images (Tensor): (M, 3, H, W) normalised images.
            landmarks (Tensor): (M, N, 2) ground-truth shapes, normalised input coordinates.

        Returns:
            Tensor: (M, N, 3, p, p), detached (a state is data, not part of any graph).
        """
        if landmarks.ndim != 3 or landmarks.shape[1] != self.num_joints:
            raise ValueError(f'HOFSQNet: landmarks must be (M, {self.num_joints}, 2), got {tuple(landmarks.shape)}')
        centres = normalised_to_map(landmarks.detach(), images.shape[-2:])          # stride 1: input pixels
        return crop_patches(images.detach(), centres, self.patch_size, name='HOFSQNet state').detach()

    def forward(self, patches: Tensor) -> Tensor:
        if patches.ndim != 5 or patches.shape[1] != self.num_joints or \
                tuple(patches.shape[-2:]) != (self.patch_size, self.patch_size):
            raise ValueError(f'HOFSQNet: expected state patches (M, {self.num_joints}, C, {self.patch_size}, '
                             f'{self.patch_size}), got {tuple(patches.shape)}')
        feats = self.patch_cnn(patches).flatten(2)                                  # (M, N, D)
        scores = self.score(feats).squeeze(-1)                                      # (M, N)
        return scores @ self.landmark_weight + self.bias                            # (M,)

    def init_from_srn(self, srn_head: nn.Module) -> None:
        """Copy the pre-trained SRN's patch CNN weights into the Q-net's (Sec. 3.2, "Q-net").

        Args:
            srn_head (nn.Module): An :class:`~mmfacealign.models.heads.SRNHead` (or a model whose ``head`` is
                one). Its ``patch_cnn`` config and ``patch_size`` must equal this Q-net's.
        """
        head = srn_head if hasattr(srn_head, 'patch_cnn') else getattr(srn_head, 'head', None)
        if head is None or not hasattr(head, 'patch_cnn'):
            raise TypeError(f'HOFSQNet.init_from_srn: expected an SRNHead (or a model with one as .head), got '
                            f'{type(srn_head).__name__}')
        if int(getattr(head, 'patch_size', self.patch_size)) != self.patch_size:
            raise ValueError(f'HOFSQNet.init_from_srn: the SRN head crops {head.patch_size} px patches but the '
                             f'Q-net {self.patch_size} px; set q_net.patch_size={head.patch_size}')
        source = head.patch_cnn.state_dict()
        target = self.patch_cnn.state_dict()
        mismatch = sorted(k for k in set(source) | set(target)
                          if k not in source or k not in target or source[k].shape != target[k].shape)
        if mismatch:
            raise ValueError(f'HOFSQNet.init_from_srn: the Q-net patch CNN differs from the SRN head\'s at '
                             f'{mismatch}; set q_net.patch_cnn to the SRN head\'s patch_cnn config')
        self.patch_cnn.load_state_dict(source)
