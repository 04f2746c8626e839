# Copyright (c) mmfacealign contributors. All rights reserved.
"""ONNX export of a top-down face-alignment model and its check against onnxruntime.

What is exported is ``backbone -> neck -> head.forward``: for the mmfacealign families (baseline regression,
SCDF static and dynamic, FFLD, ODN, SRN with its cascade unrolled) the (B, K, 2) normalised input coordinates
that ``head.forward`` gives; for MMPose's heatmap / SimCC heads their raw outputs. Decoding (the codec) and the
mapping back to image pixels stay in Python (:class:`~mmfacealign.deployment.ORTFaceAligner`), so both backends
share them. The graph has one input ``input`` (B, 3, H, W), already normalised by the data preprocessor, with a
dynamic batch axis, and the outputs ``keypoints`` (one tensor) or ``output0``, ``output1``, ... (a tuple).

The exporter is torch's TorchScript-based one (``dynamo=False``): on torch 2.9 it traces every family of the
project, the Python branches of the heads (SRN's mean-shape check, the finite-centre checks of the patch
cropping) being evaluated once at trace time.
"""
import re
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import Tensor, nn

DEFAULT_OPSET = 17      # grid_sample (FFLD's and SRN's patch cropping) needs opset 16 or later
INPUT_NAME = 'input'


class ExportError(RuntimeError):
    """Base class of the errors of the export tool (its CLI exits non-zero with the message)."""


class UnsupportedOpError(ExportError):
    """An operator of the model has no ONNX form at the requested opset."""

    def __init__(self, message: str, op: str, opset: int):
        super().__init__(message)
        self.op, self.opset = op, opset


class OnnxCheckError(ExportError):
    """onnxruntime's outputs differ from PyTorch's by more than the tolerance."""


# ------------------------------------------------------------------------------------------------------ model
def build_model(config: Union[str, Config], checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None) -> nn.Module:
    """The model of ``config`` (mmfacealign's ``init_model``: any project config or ``mmpose::`` name) on the CPU in
    eval mode, with ``checkpoint`` loaded strictly (:func:`~mmfacealign.apis.load_weights`, which raises
    :class:`~mmfacealign.apis.CheckpointMismatchError`); random weights without one."""
    from mmpose.utils import register_all_modules
    register_all_modules()
    import mmfacealign  # noqa: F401  (registers the project's modules)
    from mmfacealign.apis import init_model, load_config, load_weights
    model = init_model(load_config(config, cfg_options), None, device='cpu')
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=True, config_name=config if isinstance(config, str) else None)
    return model.eval()


# ---------------------------------------------------------------------------------------------------- export
class HeadOutputs(nn.Module):
    """``head.forward(extract_feat(x))``: the network part of a top-down estimator, without flip test or decoding
    (a tuple output, e.g. SimCC's, is returned as a tuple). An ``OcclusionPredictHead`` gives ``(keypoints,
    keypoints_occluded)``: the occlusion logits pass through the sigmoid inside the graph, so its second output is
    each landmark's probability of being occluded (B, K)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor):
        out = self.model.head.forward(self.model.extract_feat(x))
        if has_occlusion_output(self.model):
            return out[0], torch.sigmoid(out[1])
        return tuple(out) if isinstance(out, (tuple, list)) else out


def has_occlusion_output(model: nn.Module) -> bool:
    """Whether ``model``'s head is an :class:`~mmfacealign.models.heads.OcclusionPredictHead`."""
    from mmfacealign.models.heads import OcclusionPredictHead
    return isinstance(getattr(model, 'head', None), OcclusionPredictHead)


def _masked_softmax_scatter(weights: Tensor, mask: Tensor) -> Tensor:
    """:func:`~mmfacealign.models.layers.graph_conv.masked_softmax` with a scatter onto the flat mask indices in
    place of the boolean-mask assignment ``full[..., mask] = weights``, which the TorchScript exporter turns into
    an invalid graph for batched weights (SCDF's dynamic neighbour weights). The same values (row-major order)."""
    from mmfacealign.models.layers.graph_conv import MASK_FILL
    n = mask.shape[0]
    index = torch.nonzero(mask.flatten()).flatten()
    flat = weights.reshape(-1, weights.shape[-1])
    full = flat.new_full((flat.shape[0], n * n), MASK_FILL).scatter(1, index[None].expand(flat.shape[0], -1), flat)
    return F.softmax(full.reshape(weights.shape[:-1] + (n, n)), dim=-1)


def adaptive_pool_matrix(in_size: int, out_size: int) -> Tensor:
    """(out_size, in_size) averaging matrix of adaptive average pooling along one axis: row i averages input
    cells floor(i * in / out) to ceil((i + 1) * in / out) - 1, PyTorch's adaptive windows (overlapping when
    ``out_size`` does not divide ``in_size``)."""
    m = torch.zeros(out_size, in_size)
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
        m[i, start:end] = 1. / (end - start)
    return m


_adaptive_avg_pool2d = F.adaptive_avg_pool2d


def _adaptive_avg_pool2d_matmul(x: Tensor, output_size) -> Tensor:
    """``F.adaptive_avg_pool2d`` for a (B, C, H, W) input; where the output size does not divide the input size
    (ODN's 4 x 4 pooling of ResNet-18's 7 x 7 map at 224 x 224), which the exporter refuses, the same average as two
    constant matrix products ``P_h x P_w^T`` (:func:`adaptive_pool_matrix`); otherwise PyTorch's own op."""
    h, w = int(x.shape[-2]), int(x.shape[-1])
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = oh or h, ow or w                                   # None keeps that axis
    if h % oh == 0 and w % ow == 0:
        return _adaptive_avg_pool2d(x, output_size)
    ph = adaptive_pool_matrix(h, oh).to(x)
    pw = adaptive_pool_matrix(w, ow).to(x)
    return torch.matmul(torch.matmul(ph, x), pw.t())


@contextmanager
def export_rewrites():
    """Export-only equivalent forms of ops that the exporter mistranslates or refuses (checked against the
    unchanged eager model by :func:`check_onnx`): SCDF's masked softmax as a scatter, adaptive average pooling to
    a size that does not divide the input's as matrix products."""
    from mmfacealign.models.layers import dynamic_adjacency
    original = dynamic_adjacency.masked_softmax
    dynamic_adjacency.masked_softmax = _masked_softmax_scatter
    F.adaptive_avg_pool2d = _adaptive_avg_pool2d_matmul
    try:
        yield
    finally:
        dynamic_adjacency.masked_softmax = original
        F.adaptive_avg_pool2d = _adaptive_avg_pool2d


_OP_PATTERN = re.compile(r"operator '?([A-Za-z_][\w:.]*)'?")


def _unsupported(err: Exception, opset: int) -> UnsupportedOpError:
    text = str(err)
    match = _OP_PATTERN.search(text)
    op = match.group(1) if match else 'unknown operator'
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return UnsupportedOpError(f'ONNX export failed: operator {op} cannot be exported at ONNX opset {opset} '
                              f'({type(err).__name__}: {first})', op=op, opset=opset)


def export_onnx(model: nn.Module, out: str, input_size: Tuple[int, int], opset: int = DEFAULT_OPSET,
                batch: int = 1) -> List[str]:
    """Export ``model``'s :class:`HeadOutputs` to ``out`` at ``opset`` with a dynamic batch axis, the input
    (batch, 3, h, w) for ``input_size = (w, h)``. Returns the output names. An operator without ONNX form raises
    :class:`UnsupportedOpError` naming it and the opset."""
    import warnings
    wrapper = HeadOutputs(model).eval()
    w, h = input_size
    x = torch.randn(batch, 3, h, w)
    with torch.no_grad():
        sample = wrapper(x)
    if isinstance(sample, Tensor):
        names = ['keypoints'] if sample.ndim == 3 and sample.shape[-1] == 2 else ['output']
    elif has_occlusion_output(model):
        names = ['keypoints', 'keypoints_occluded']
    else:
        names = [f'output{i}' for i in range(len(sample))]
    axes = {name: {0: 'batch'} for name in [INPUT_NAME] + names}
    try:
        with torch.no_grad(), export_rewrites(), warnings.catch_warnings():
            warnings.simplefilter('ignore')           # TracerWarnings of the Python checks, exporter deprecation
            torch.onnx.export(wrapper, (x, ), out, opset_version=opset, dynamo=False, input_names=[INPUT_NAME],
                              output_names=names, dynamic_axes=axes, do_constant_folding=True)
    except (torch.onnx.errors.UnsupportedOperatorError, torch.onnx.errors.SymbolicValueError,
            torch.onnx.errors.OnnxExporterError) as err:
        raise _unsupported(err, opset) from err
    except RuntimeError as err:                         # older symbolic functions raise plain RuntimeErrors
        if 'ONNX' in str(err) and 'operator' in str(err):
            raise _unsupported(err, opset) from err
        raise
    _add_metadata(out, opset, input_size, model)
    return names


def _add_metadata(path: str, opset: int, input_size: Tuple[int, int], model: nn.Module, extra=()) -> None:
    import onnx
    proto = onnx.load(path)
    meta = (('mmfacealign.opset', str(opset)), ('mmfacealign.input_size', f'{input_size[0]}x{input_size[1]}'),
            ('mmfacealign.head', type(model.head).__name__), *extra)
    for key, value in meta:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


# ------------------------------------------------------------------------------------------------------ check
def ort_session(path: str, num_threads: Optional[int] = None, providers: Sequence[str] = ('CPUExecutionProvider', )):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = int(num_threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=list(providers))


def check_onnx(model: nn.Module, path: str, input_size: Tuple[int, int], batches: Sequence[int] = (1, 3),
               atol: float = 1e-4, seed: int = 0, session=None) -> Dict[int, Tuple[float, float]]:
    """Run PyTorch (eager, the unchanged model) and onnxruntime on the same random inputs at each batch size.

    Returns {batch: (max abs difference over all outputs, max abs PyTorch output)}. Raises
    :class:`OnnxCheckError` when the difference exceeds ``atol * max(1, max |output|)``: ``atol`` itself for the
    project's normalised coordinates (|x| <= 1), relative to the scale for larger outputs (MMPose's SimCC logits
    reach ~1e2, where float32 rounding alone differs by ~1e-4)."""
    session = session or ort_session(path)
    wrapper = HeadOutputs(model).eval()
    w, h = input_size
    gen = torch.Generator().manual_seed(seed)
    results = {}
    for batch in batches:
        x = torch.randn(batch, 3, h, w, generator=gen)
        with torch.no_grad():
            ref = wrapper(x)
        ref = [ref] if isinstance(ref, Tensor) else list(ref)
        got = session.run(None, {INPUT_NAME: x.numpy()})
        if len(got) != len(ref):
            raise OnnxCheckError(f'{path}: {len(got)} ONNX outputs, PyTorch gives {len(ref)}')
        diff = scale = 0.0
        for r, g in zip(ref, got):
            if tuple(r.shape) != tuple(g.shape):
                raise OnnxCheckError(f'{path}: batch {batch}: ONNX output shape {tuple(g.shape)}, PyTorch '
                                     f'{tuple(r.shape)}')
            r = r.numpy().astype(np.float64)
            diff = max(diff, float(np.abs(r - g.astype(np.float64)).max()))
            scale = max(scale, float(np.abs(r).max()))
        results[batch] = (diff, scale)
    bad = {b: d for b, (d, s) in results.items() if not d <= atol * max(1.0, s)}
    if bad:
        raise OnnxCheckError(f'{path}: onnxruntime differs from PyTorch by more than {atol:g} (max abs difference '
                             + ', '.join(f'batch {b}: {d:.3g}' for b, d in bad.items()) + ')')
    return results
