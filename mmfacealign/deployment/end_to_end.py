# Copyright (c) mmfacealign contributors. All rights reserved.
"""One ONNX graph from an image and face boxes to landmarks in image pixels: :class:`EndToEndAligner`.

Inputs ``image`` (H, W, 3) uint8 in OpenCV's BGR order (any H, W) and ``bboxes`` (N, 4) float32 ``x1, y1, x2, y2``
landmark boxes in pixels (the box convention the models are trained with; :mod:`mmfacealign.apis.box_convention`
maps a detector's boxes to it), N >= 1 dynamic. Outputs ``keypoints`` (N, K, 2) image pixels, ``scores`` (N, K)
and, for a model with an occlusion output, ``keypoints_occluded`` (N, K) probabilities.

Inside the graph, for each box, the steps of MMPose's top-down test pipeline and model:

1. ``GetBBoxCenterScale``: centre ``c`` = the box centre, scale ``s`` = its size x ``padding`` (1.25);
2. ``TopdownAffine``: ``s`` widened to the input's aspect ratio, then the crop: input pixel ``(u, v)`` reads the
   image at ``c + ((u, v) - (w, h) / 2) * s_x / w`` (``get_warp_matrix`` without rotation), bilinear, zero outside
   the image, rounded to integers as ``cv2.warpAffine`` writes uint8; all N crops in one ``grid_sample``;
3. the data preprocessor: BGR to RGB when the config asks, ``(x - mean) / std``;
4. the network (backbone, neck, head), as :class:`~mmfacealign.deployment.onnx_export.HeadOutputs`;
5. decoding (``RegressionLabel``: the head's normalised coordinates times the input size, scores 1) and
   ``TopdownPoseEstimator.add_pred_to_datasample``: ``keypoints * s / (w, h) + c - s / 2``.

No flip test (one forward pass; compare with the PyTorch pipeline run with ``test_cfg.flip_test=False``). The
differences from the PyTorch pipeline are ``cv2.warpAffine``'s fixed-point interpolation (1/32-pixel positions,
15-bit weights) against float bilinear sampling.
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .onnx_export import DEFAULT_OPSET, ExportError, HeadOutputs, export_rewrites, has_occlusion_output

IMAGE_NAME, BOXES_NAME = 'image', 'bboxes'


def _check_decoder(model: nn.Module) -> None:
    from mmpose.codecs import RegressionLabel

    from mmfacealign.models.heads.occlusion_head import landmark_head
    head = landmark_head(model.head)
    decoder = getattr(head, 'decoder', None)
    if not isinstance(decoder, RegressionLabel):
        raise ExportError(f'--end-to-end decodes normalised coordinates (RegressionLabel) inside the graph; the head '
                          f'{type(head).__name__} decodes with {type(decoder).__name__} (heatmap and SimCC heads: '
                          'export the network alone and decode in Python, mmfacealign.deployment.ORTFaceAligner)')


class EndToEndAligner(nn.Module):
    """``(image, bboxes) -> (keypoints, scores[, keypoints_occluded])`` (see the module docstring).

    Args:
        model (nn.Module): a top-down face model (``build_model``) whose head's decoder is ``RegressionLabel``
            (every mmfacealign family; an ``OcclusionPredictHead`` around one too).
        input_size (tuple): the model's input ``(w, h)``.
        padding (float): ``GetBBoxCenterScale``'s padding. Default 1.25.
    """

    def __init__(self, model: nn.Module, input_size: Tuple[int, int], padding: float = 1.25):
        super().__init__()
        _check_decoder(model)
        self.net = HeadOutputs(model)
        self.occlusion = has_occlusion_output(model)
        self.input_w, self.input_h = (int(v) for v in input_size)
        self.padding = float(padding)
        pre = model.data_preprocessor
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        self.register_buffer('mean', (mean if mean is not None else torch.zeros(3, 1, 1)).reshape(1, 3, 1, 1).float())
        self.register_buffer('std', (std if std is not None else torch.ones(3, 1, 1)).reshape(1, 3, 1, 1).float())
        self.bgr_to_rgb = bool(getattr(pre, '_channel_conversion', False))

    def centre_scale(self, bboxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Crop centres (N, 2) and scales (N, 2) of landmark boxes (N, 4): padded, widened to the input aspect."""
        centre = (bboxes[:, :2] + bboxes[:, 2:]) * 0.5
        size = (bboxes[:, 2:] - bboxes[:, :2]) * self.padding
        w, h = size[:, :1], size[:, 1:]
        aspect = self.input_w / self.input_h
        wide = w > h * aspect
        scale = torch.cat([torch.where(wide, w, h * aspect), torch.where(wide, w / aspect, h)], dim=1)
        return centre, scale

    def crops(self, image: Tensor, centre: Tensor, scale: Tensor) -> Tensor:
        """The (N, 3, h, w) float crops (0-255, channel order of the image) of an (H, W, 3) image."""
        img = image.permute(2, 0, 1).unsqueeze(0).float()                         # (1, 3, H, W)
        hw = torch._shape_as_tensor(image)[:2].to(torch.float32)                   # (H, W), dynamic in the graph
        step = scale[:, 0] / self.input_w                                          # pixels per input pixel (N,)
        u = torch.arange(self.input_w, dtype=torch.float32, device=image.device) - self.input_w / 2
        v = torch.arange(self.input_h, dtype=torch.float32, device=image.device) - self.input_h / 2
        x = centre[:, 0, None, None] + u[None, None, :] * step[:, None, None]     # (N, 1, w)
        y = centre[:, 1, None, None] + v[None, :, None] * step[:, None, None]     # (N, h, 1)
        gx = (2 * x + 1) / hw[1] - 1                                               # align_corners=False units
        gy = (2 * y + 1) / hw[0] - 1
        grid = torch.stack([gx.expand(-1, self.input_h, -1), gy.expand(-1, -1, self.input_w)], dim=-1)
        grid = grid.reshape(1, -1, self.input_w, 2)                                # all N crops stacked in height
        out = F.grid_sample(img, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        out = out.reshape(3, -1, self.input_h, self.input_w).permute(1, 0, 2, 3)  # (N, 3, h, w)
        return torch.round(out)

    def forward(self, image: Tensor, bboxes: Tensor):
        centre, scale = self.centre_scale(bboxes.float())
        x = self.crops(image, centre, scale)
        if self.bgr_to_rgb:
            x = x[:, [2, 1, 0]]
        x = (x - self.mean) / self.std
        out = self.net(x)
        coords, occluded = (out[0], out[1]) if self.occlusion else (out, None)
        keypoints = coords * scale[:, None, :] + (centre - 0.5 * scale)[:, None, :]
        scores = torch.ones_like(keypoints[..., 0])
        return (keypoints, scores, occluded) if self.occlusion else (keypoints, scores)


def export_end_to_end(model: nn.Module, out: str, input_size: Tuple[int, int], opset: int = DEFAULT_OPSET,
                      padding: float = 1.25) -> List[str]:
    """Export :class:`EndToEndAligner` of ``model`` to ``out`` (dynamic image size and face count). Returns the
    output names."""
    import warnings

    from .onnx_export import _add_metadata, _unsupported
    wrapper = EndToEndAligner(model, input_size, padding).eval()
    image = torch.randint(0, 255, (160, 200, 3), dtype=torch.uint8)
    boxes = torch.tensor([[30.0, 20.0, 110.0, 120.0], [90.0, 40.0, 170.0, 130.0]])
    names = ['keypoints', 'scores'] + (['keypoints_occluded'] if wrapper.occlusion else [])
    axes = {IMAGE_NAME: {0: 'height', 1: 'width'}, BOXES_NAME: {0: 'faces'}, **{n: {0: 'faces'} for n in names}}
    try:
        with torch.no_grad(), export_rewrites(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(wrapper, (image, boxes), out, opset_version=opset, dynamo=False,
                              input_names=[IMAGE_NAME, BOXES_NAME], output_names=names, dynamic_axes=axes,
                              do_constant_folding=True)
    except (torch.onnx.errors.UnsupportedOperatorError, torch.onnx.errors.SymbolicValueError,
            torch.onnx.errors.OnnxExporterError) as err:
        raise _unsupported(err, opset) from err
    from mmfacealign.apis.box_convention import CALIBRATIONS
    calibrations = tuple((f'mmfacealign.box_calibration.{name}', f'{c.dx} {c.dy} {c.sw} {c.sh}')
                         for name, c in CALIBRATIONS.items())   # detector box -> landmark box, for demo/onnx_demo.py
    _add_metadata(out, opset, input_size, model, extra=(('mmfacealign.end_to_end', '1'),
                                                        ('mmfacealign.padding', f'{padding:g}'), *calibrations))
    return names


def run_end_to_end(session, image_bgr: np.ndarray, bboxes: Sequence) -> dict:
    """Run an end-to-end graph on a BGR uint8 image and (N, 4) boxes: ``{output name: array}`` (N >= 1)."""
    boxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        raise ValueError('run_end_to_end: no box (the graph needs at least one face)')
    outs = session.run(None, {IMAGE_NAME: np.ascontiguousarray(image_bgr, np.uint8), BOXES_NAME: boxes})
    return {o.name: v for o, v in zip(session.get_outputs(), outs)}


def check_end_to_end(model: nn.Module, path: str, px_tol: float = 0.5, prob_tol: float = 0.05,
                     image_bgr: np.ndarray = None, bboxes: np.ndarray = None) -> Tuple[float, float]:
    """The graph at ``path`` against the PyTorch pipeline (``align_faces``, landmark boxes, flip test off) on
    ``image_bgr`` at ``bboxes`` (default: a SynthFace face at its landmark box, shifted, enlarged, and one box partly
    outside the image). Returns (max landmark difference in pixels, max occlusion-probability difference or None);
    raises :class:`~mmfacealign.deployment.OnnxCheckError` above ``px_tol`` / ``prob_tol``."""
    import copy

    from mmfacealign.apis import align_faces

    from .onnx_export import OnnxCheckError, ort_session
    if image_bgr is None:
        from mmfacealign.datasets.synthface.generator import SynthFaceConfig, generate_sample
        from mmfacealign.datasets.synthface.shape_model import PointDistributionModel
        image_bgr, ann = generate_sample(SynthFaceConfig(image_size=200, shape_model='builtin'),
                                         PointDistributionModel.builtin(), 'test', 0)
        lo, hi = ann['keypoints'].min(0), ann['keypoints'].max(0)
        box = np.concatenate([lo, hi])
        size = hi - lo
        bboxes = np.stack([box, box + np.r_[size, size] * 0.07, np.r_[lo - 0.2 * size, hi + 0.2 * size],
                           box - np.r_[lo, lo] - np.r_[size, size] * 0.3])       # the last partly outside
    ref_model = copy.deepcopy(model)
    ref_model.test_cfg = dict(ref_model.test_cfg or {}, flip_test=False)
    ref = align_faces(ref_model, image_bgr, bboxes=np.asarray(bboxes, np.float32), box_convention='landmark')
    got = run_end_to_end(ort_session(path), image_bgr, bboxes)
    px = max(float(np.abs(got['keypoints'][i] - f['keypoints']).max()) for i, f in enumerate(ref))
    prob = None
    if 'keypoints_occluded' in got:
        prob = max(float(np.abs(got['keypoints_occluded'][i] - f['keypoints_occluded']).max())
                   for i, f in enumerate(ref))
    if not px <= px_tol or (prob is not None and not prob <= prob_tol):
        raise OnnxCheckError(f'{path}: the end-to-end graph differs from the PyTorch pipeline by {px:.3g} px '
                             f'(tolerance {px_tol:g})' + (f', occlusion probabilities by {prob:.3g} (tolerance '
                                                          f'{prob_tol:g})' if prob is not None else ''))
    return px, prob


__all__ = ['check_end_to_end', 'EndToEndAligner', 'export_end_to_end', 'run_end_to_end', 'IMAGE_NAME', 'BOXES_NAME']
