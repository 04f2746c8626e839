# Copyright (c) mmfacealign contributors. All rights reserved.
"""MMPose's ResNet without the last residual unit(s) of its last stage.

ODN (Zhu et al., CVPR 2019), Sec. 3 and Fig. 1: "we modify the last residual unit of ResNet-18 to the proposed
occlusion-adaptive framework": the geometry-aware and distillation modules (a neck,
:class:`~mmfacealign.models.necks.OcclusionAdaptiveNeck`) take the place of ResNet-18's last BasicBlock. This
subclass removes that block and changes nothing else: the remaining weights keep MMPose's (and torchvision's)
names, so ImageNet checkpoints load (the removed block's weights are reported as unexpected keys).
"""
import copy
from typing import Tuple

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS


@MODELS.register_module()
class TruncatedResNet(ResNet):
    """:class:`~mmpose.models.backbones.ResNet` whose last stage lacks its last ``num_removed_blocks`` units.

    Args:
        num_removed_blocks (int): Residual units removed from the end of the last stage. Default 1 (ODN).
        **kwargs: MMPose ``ResNet`` arguments.

    Shapes: as MMPose's ResNet; for ResNet-18 at 224 x 224 the last output stays (512, 7, 7) (the removed unit
    keeps the size).
    """

    def __init__(self, num_removed_blocks: int = 1, **kwargs):
        super().__init__(**kwargs)
        last = getattr(self, self.res_layers[-1])
        if not 0 <= num_removed_blocks < len(last):
            raise ValueError(f'TruncatedResNet: num_removed_blocks must be in [0, {len(last) - 1}] for a last '
                             f'stage of {len(last)} units, got {num_removed_blocks}')
        for _ in range(num_removed_blocks):
            del last[len(last) - 1]
        self.num_removed_blocks = num_removed_blocks

    @staticmethod
    def benchmark_reference(model_cfg) -> Tuple[dict, str]:
        """The network an ODN model is measured against (``tools/analysis_tools/benchmark_model.py
        --reference-head``): the plain ResNet (its last unit back), global average pooling and MMPose's
        ``RegressionHead``, the baseline the paper modifies. Returns (model config, row label)."""
        ref = copy.deepcopy(model_cfg)
        ref.backbone = {k: v for k, v in model_cfg.backbone.items() if k != 'num_removed_blocks'}
        ref.backbone['type'] = 'ResNet'
        width = ref.backbone.get('base_channels', 64) * 8            # last stage of ResNet-18/34 (BasicBlock)
        ref.neck = dict(type='GlobalAveragePooling')
        ref.head = dict(type='RegressionHead', in_channels=width, num_joints=model_cfg.head.num_joints,
                        loss=dict(type='SoftWingLoss', use_target_weight=True), decoder=model_cfg.head.get('decoder'))
        return ref, 'plain ResNet + RegressionHead reference'
