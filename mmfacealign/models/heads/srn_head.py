# Copyright (c) mmfacealign contributors. All rights reserved.
"""The SRN head: a cascade of shape-indexed patch regressions with hierarchical structural relations.

Zhu et al., "Reasoning Structural Relation for Occlusion-Robust Facial Landmark Localization", Pattern Recognition
2022 (Sec. 3.1, 4.1; the official TensorFlow code's dimensions, ``models.py``). From an initial shape ``x_0`` (the
training mean shape in the face box, or another model's prediction: the paper's SRN+HG), each of ``T`` iterations
(default 3, all weights shared; Sec. 3.1, Fig. 2):

1. crops one ``36 x 36`` patch of the input image around every current landmark (one vectorised call of the shared
   :func:`~mmfacealign.models.utils.crop_patches`);
2. encodes each patch with the :class:`~mmfacealign.models.layers.PatchCNN` (256 values per patch);
3. relates all patch positions of all landmarks with a non-local block (Sec. 3.1, [43]; mmcv's ``NonLocal2d`` on a
   (B, 64, N, 4) map: 4N positions);
4. the :class:`~mmfacealign.models.layers.HierarchicalStructuralRelation` (levels 1-3 and the RNN memory) gives the
   shape update, ``x_t = x_{t-1} + dx_t``.

The loss (Eq. 8, :class:`~mmfacealign.models.losses.CascadeNMELoss`) sums every iteration's normalised error.

The head needs the image: pair it with the :class:`~mmfacealign.models.backbones.ImagePassThrough` backbone, so
``TopdownPoseEstimator`` hands it ``(image, )`` and flip test and decoding work as for ``RegressionHead``. ONNX export
(``tools/deployment/export_onnx.py``) unrolls the T iterations; the mean-shape and finite-centre checks are Python
branches, evaluated once at tracing.
Coordinates are MMPose's normalised input coordinates throughout; the crop centres go to input pixels through
:func:`~mmfacealign.models.utils.normalised_to_map` (the image is a stride-1 map).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from ..utils.coordinates import normalised_to_pixels
from ..utils.patch_sampling import crop_patches, normalised_to_map
from .base_regression_head import BaseLandmarkRegressionHead

#: Units of the HSRM's output, see :class:`SRNHead`.
DELTA_UNITS = ('pixels', 'normalised')


@MODELS.register_module()
class SRNHead(BaseLandmarkRegressionHead):
    """SRN cascaded shape-indexed patch head for ``TopdownPoseEstimator`` (SRN Sec. 3.1, Eq. 2-8).

    Args:
        num_joints (int): Number of landmarks N.
        num_iterations (int): Cascade iterations T (weights shared). Default 3, the official setting.
        patch_size (int): Side of the square image patches, in input pixels. Default 36 (at the 224 input).
        patch_cnn (dict): The :class:`~mmfacealign.models.layers.PatchCNN` config. Default the official one.
        non_local (dict, optional): The non-local block over all patch positions, built from ``MODELS`` with
            ``in_channels`` set to the CNN's output channels. Default: mmcv's ``NonLocal2d``, embedded Gaussian
            without scale (``softmax(theta^T phi)``, as the official code; ``use_scale=True`` adds mmcv's
            ``1 / sqrt(C)``, which neither the paper nor the official code has), no channel reduction, zero-
            initialised output conv (a residual identity at the start). ``mode='dot_product'`` is the reading of
            the paper's text ([43]'s dot-product form: ``theta^T phi`` divided by the number of positions).
            ``None`` removes it (Table 8).
        hsrm (dict): The :class:`~mmfacealign.models.layers.HierarchicalStructuralRelation` config;
            ``num_keypoints`` and ``feat_channels`` are filled in. Its ``use_*`` switches are Table 7's ablations.
        mean_shape (sequence, optional): The initial shape x_0, (N, 2) normalised input coordinates. Default None:
            :class:`~mmfacealign.engine.hooks.MeanShapeHook` sets it from the training annotations before training;
            it is saved in checkpoints (buffer ``mean_shape``).
        init_model (dict, optional): SRN+HG: the initial shape is another (frozen) model's prediction instead of the
            mean shape. ``dict(config=..., checkpoint=...)``: an MMPose top-down model config (path or dict) whose
            head returns normalised coordinates (regression heads) or heatmaps (decoded by their arg-max). It sees
            the same normalised input, so it must use the same data preprocessor. Default None.
        detach_centres (bool): Cut the gradient through the crop positions between iterations. Default True: the
            official patch-extraction op has no gradient with respect to positions (MDM's design).
        delta_unit (str): What the HSRM's output means. ``'pixels'`` (default, the official code's): the update in
            input pixels, ``x_t = x_{t-1} + delta / (W, H)`` in normalised coordinates (W, H: the image's), so
            that with the official FC initialisation a step starts at a small fraction of a pixel. ``'normalised'``:
            the update in normalised coordinates (earlier versions; the output layer's steps move landmarks W times
            more).
        loss (dict): The loss of all iterations' shapes. Default ``CascadeNMELoss`` (Eq. 8).
        decoder (dict, optional): Codec for :meth:`predict` (``RegressionLabel``).
        input_size (tuple, optional): Input (w, h). Default: the decoder's.

    Shapes: ``forward((image (B, 3, H, W), )) -> (B, N, 2)``; :meth:`forward_iterations` -> (B, T, N, 2), every
    iteration's shape.
    """

    @staticmethod
    def benchmark_extras(model_cfg) -> Tuple[str, ...]:
        """Extra measurements of ``tools/analysis_tools/benchmark_model.py`` for this head: ``'patch_share'``, the
        shape-indexed patch extraction's share of the forward pass (the paper's Sec. 4 cost question)."""
        return ('patch_share', )

    def __init__(self,
                 num_joints: int,
                 num_iterations: int = 3,
                 patch_size: int = 36,
                 patch_cnn: ConfigType = dict(type='PatchCNN'),
                 non_local: OptConfigType = dict(type='NonLocal2d', reduction=1, use_scale=False,
                                                 mode='embedded_gaussian'),
                 hsrm: ConfigType = dict(type='HierarchicalStructuralRelation'),
                 mean_shape: Optional[Sequence[Sequence[float]]] = None,
                 init_model: OptConfigType = None,
                 detach_centres: bool = True,
                 delta_unit: str = 'pixels',
                 loss: ConfigType = dict(type='CascadeNMELoss'),
                 decoder: OptConfigType = None,
                 input_size: Optional[Sequence[int]] = None,
                 init_cfg: OptConfigType = None):
        super().__init__(num_joints=num_joints, loss=loss, decoder=decoder, input_size=input_size, init_cfg=init_cfg)
        if num_iterations < 0:
            raise ValueError(f'SRNHead: num_iterations must be >= 0, got {num_iterations}')
        if delta_unit not in DELTA_UNITS:
            raise ValueError(f'SRNHead: delta_unit must be one of {DELTA_UNITS}, got {delta_unit!r}')
        self.delta_unit = delta_unit
        self.num_iterations = int(num_iterations)
        self.patch_size = int(patch_size)
        self.detach_centres = detach_centres
        self.patch_cnn = MODELS.build(patch_cnn)
        out_h, out_w = self.patch_cnn.output_size((self.patch_size, self.patch_size))
        self.cnn_channels = self.patch_cnn.out_channels
        self.cells = out_h * out_w
        self.non_local = (MODELS.build(dict(non_local, in_channels=self.cnn_channels))
                          if non_local is not None else None)
        self.hsrm = MODELS.build(dict(hsrm, num_keypoints=num_joints, feat_channels=self.cnn_channels * self.cells))

        self.register_buffer('mean_shape', torch.full((num_joints, 2), 0.5))
        self.register_buffer('mean_shape_ready', torch.tensor(False))
        if mean_shape is not None:
            self.set_mean_shape(torch.as_tensor(mean_shape, dtype=torch.float32))
        self.init_model = self._build_init_model(init_model) if init_model is not None else None

    # ----------------------------------------------------------------------------------------------- initial shape
    def set_mean_shape(self, shape: Tensor) -> None:
        """Set x_0, (N, 2) normalised input coordinates (kept in the checkpoint)."""
        shape = torch.as_tensor(shape, dtype=self.mean_shape.dtype)
        if shape.shape != self.mean_shape.shape or not bool(torch.isfinite(shape).all()):
            raise ValueError(f'SRNHead: mean_shape must be finite with shape {tuple(self.mean_shape.shape)}, got '
                             f'{tuple(shape.shape)}')
        self.mean_shape.copy_(shape.to(self.mean_shape.device))
        self.mean_shape_ready.fill_(True)

    def _build_init_model(self, cfg: ConfigType) -> nn.Module:
        from mmengine.runner import load_checkpoint
        from mmpose.models import build_pose_estimator
        if 'config' not in cfg:
            raise ValueError("SRNHead: init_model needs 'config' (a path or a model config) and optionally "
                             f"'checkpoint', got keys {sorted(cfg)}")
        model_cfg = cfg['config']
        if isinstance(model_cfg, str):
            model_cfg = Config.fromfile(model_cfg).model
        model = build_pose_estimator(model_cfg)
        if cfg.get('checkpoint'):
            load_checkpoint(model, cfg['checkpoint'], map_location='cpu')
        model.eval()
        model.requires_grad_(False)
        model._is_init = True            # the runner's init_weights() must not re-initialise the loaded weights
        return model

    def train(self, mode: bool = True):
        super().train(mode)
        if self.init_model is not None:
            self.init_model.eval()                           # frozen: BN statistics stay
        return self

    def initial_shape(self, image: Tensor) -> Tensor:
        """x_0 (B, N, 2): the mean shape, or the ``init_model``'s prediction."""
        b = image.shape[0]
        if self.init_model is None:
            if not bool(self.mean_shape_ready):
                raise RuntimeError('SRNHead: the mean shape is not set. Add dict(type="MeanShapeHook") to the '
                                   "config's custom_hooks (it computes it from the training annotations), pass "
                                   'head.mean_shape, or load a trained checkpoint')
            return self.mean_shape.to(image.dtype).expand(b, -1, -1)
        with torch.no_grad():
            out = self.init_model.head.forward(self.init_model.extract_feat(image))
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.ndim == 4:                                   # heatmaps (B, N, h, w): arg-max cell / map size
            h, w = out.shape[-2:]
            idx = out.flatten(2).argmax(-1)
            out = torch.stack([(idx % w).to(image.dtype) / w, (idx // w).to(image.dtype) / h], dim=-1)
        if out.shape != (b, self.num_joints, 2):
            raise ValueError(f'SRNHead: init_model gave {tuple(out.shape)}, expected ({b}, {self.num_joints}, 2) '
                             'normalised coordinates or (B, N, h, w) heatmaps')
        return out.to(image.dtype)

    # ----------------------------------------------------------------------------------------------------- forward
    def encode(self, image: Tensor, shape: Tensor, iteration: int = 0) -> Tuple[Tensor, Tensor]:
        """Patches around ``shape`` -> (features after the non-local block (B, N, C), before it (B, N, C))."""
        centres = normalised_to_map(shape, image.shape[-2:])           # stride 1: input pixels
        patches = crop_patches(image, centres, self.patch_size, detach_centres=self.detach_centres,
                               name=f'SRNHead iteration {iteration + 1}')            # (B, N, 3, p, p)
        feats = self.patch_cnn(patches)                                             # (B, N, c, h', w')
        b, n, c = feats.shape[:3]
        pre = feats.reshape(b, n, c, self.cells)
        if self.non_local is None:
            post = pre
        else:                       # all 4N positions of all landmarks in one map (B, c, N, 4)
            post = self.non_local(pre.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        return post.flatten(2), pre.flatten(2)

    def forward_iterations(self, feats: Tuple[Tensor], hidden: Optional[Tensor] = None,
                           initial: Optional[Tensor] = None, return_hidden: bool = False):
        """Every iteration's shape (B, T, N, 2); with ``return_hidden`` also the final RNN state (B, 512), which
        video tracking carries to the next frame (Eq. 13). For T = 0 the result is x_0 alone, (B, 1, N, 2)."""
        image = feats[-1]
        if image.ndim != 4:
            raise ValueError(f'SRNHead: expected the image (B, C, H, W) as the last feature (use the '
                             f'ImagePassThrough backbone), got shape {tuple(image.shape)}')
        shape = self.initial_shape(image) if initial is None else initial
        shapes: List[Tensor] = []
        for t in range(self.num_iterations):
            post, pre = self.encode(image, shape, t)
            delta, hidden = self.hsrm(post, memory_input=pre.flatten(1), h=hidden)
            if self.delta_unit == 'pixels':                                  # input pixels -> normalised
                delta = delta / delta.new_tensor([image.shape[-1], image.shape[-2]])
            shape = shape + delta
            shapes.append(shape)
        out = torch.stack(shapes, dim=1) if shapes else shape[:, None]
        return (out, hidden) if return_hidden else out

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.forward_iterations(feats)[:, -1]

    # ---------------------------------------------------------------------------------------------------- training
    def loss_terms(self, feats: Tuple[Tensor], labels: Tensor, weights: Tensor,
                   batch_data_samples: OptSampleList, train_cfg: ConfigType = {}) -> Tuple[Tensor, Dict[str, Tensor]]:
        """``loss_kpt``: Eq. 8 over all iterations, in input pixels (scale-free, but both axes in one unit)."""
        size = self.check_input_size(batch_data_samples)
        shapes = self.forward_iterations(feats)
        loss = self.loss_module(normalised_to_pixels(shapes, size), normalised_to_pixels(labels, size), weights)
        return shapes[:, -1], dict(loss_kpt=loss)
