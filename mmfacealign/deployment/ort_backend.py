# Copyright (c) mmfacealign contributors. All rights reserved.
"""onnxruntime inference with the pre- and post-processing of PyTorch inference.

:class:`ORTFaceAligner` is a model that ``mmpose.apis.inference_topdown`` runs like a ``TopdownPoseEstimator``
(it has the ``cfg``, ``dataset_meta`` and ``test_step`` that function uses), with the network replaced by an ONNX
graph made by ``tools/deployment/export_onnx.py``: the same test pipeline (:func:`mmfacealign.apis.inference_config`),
the same normalisation (the model's ``data_preprocessor``), the same decoding (the head's ``predict`` / codec) and
the same mapping of the keypoints back to image pixels (``TopdownPoseEstimator.add_pred_to_datasample``). The model
built from the config (no weights loaded) only hosts these steps; its network never runs::

    from mmpose.apis import inference_topdown
    samples = inference_topdown(ORTFaceAligner('model.onnx', CONFIG), img, bboxes)

No flip test: the ONNX graph holds one forward pass, so ``test_cfg.flip_test`` is switched off; compare with
PyTorch inference run with ``model.test_cfg.flip_test=False``.
"""
from contextlib import contextmanager
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from ..apis.inference import input_size_of, load_config
from .onnx_export import INPUT_NAME, build_model, has_occlusion_output, ort_session


@contextmanager
def _head_outputs(head, outputs):
    """Within the block ``head.forward`` returns ``outputs`` (the ONNX results), so that ``head.predict`` decodes
    them exactly as it decodes its own forward pass."""
    head.forward = lambda feats: outputs
    try:
        yield
    finally:
        del head.forward


class ORTFaceAligner:
    """A top-down face-alignment model run by onnxruntime.

    Args:
        onnx_path (str): The graph written by ``tools/deployment/export_onnx.py``.
        config (str | Config): The config it was exported from (path or ``mmpose::`` name): its test pipeline,
            data preprocessor, codec and dataset meta are used.
        cfg_options (dict, optional): Merged into the config (as ``--cfg-options``).
        num_threads (int, optional): onnxruntime's intra-op threads. Default: onnxruntime's choice.
        providers (sequence): onnxruntime execution providers. Default CPU.
    """

    def __init__(self, onnx_path: str, config: Union[str, Config], cfg_options: Optional[dict] = None,
                 num_threads: Optional[int] = None, providers: Sequence[str] = ('CPUExecutionProvider', )):
        cfg = load_config(config, cfg_options)
        self.model = build_model(cfg)                          # hosts pre/post-processing; weights unused
        self.cfg = self.model.cfg
        self.dataset_meta = self.model.dataset_meta
        self.test_cfg = dict(self.model.test_cfg or {}, flip_test=False)
        self.session = ort_session(onnx_path, num_threads=num_threads, providers=providers)
        self.onnx_path = onnx_path
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name if inp.name else INPUT_NAME
        w, h = input_size_of(self.cfg)
        if len(inp.shape) != 4 or tuple(inp.shape[2:]) != (h, w):
            raise ValueError(f'{onnx_path}: input shape {inp.shape} does not match the config input size '
                             f'(h, w) = ({h}, {w}); export it from this config')
        self.static_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None

    def forward(self, inputs: torch.Tensor) -> List[np.ndarray]:
        """The graph's outputs for normalised inputs (B, 3, H, W)."""
        x = np.ascontiguousarray(inputs.detach().cpu().numpy().astype(np.float32))
        if self.static_batch is None or self.static_batch == x.shape[0]:
            return self.session.run(None, {self.input_name: x})
        parts = [self.session.run(None, {self.input_name: x[i:i + 1]}) for i in range(x.shape[0])]
        return [np.concatenate(p, axis=0) for p in zip(*parts)]

    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """``TopdownPoseEstimator.predict`` with the ONNX graph as network and no flip test."""
        outs = [torch.from_numpy(o) for o in self.forward(inputs)]
        outputs = outs[0] if len(outs) == 1 else tuple(outs)
        head, occluded = self.model.head, None
        if has_occlusion_output(self.model):      # (keypoints, keypoints_occluded): the pose head decodes the first
            head, (outputs, occluded) = head.pose_head, outputs
        with _head_outputs(head, outputs), torch.no_grad():
            preds = head.predict((), data_samples, test_cfg=self.test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds, None)
        if occluded is not None:
            for inst, prob in zip(instances, occluded.numpy()):
                inst.keypoints_occluded = prob[None]
        return self.model.add_pred_to_datasample(instances, fields, data_samples)

    def test_step(self, batch: dict) -> list:
        """The model's ``test_step`` (data preprocessor, then :meth:`predict`)."""
        with torch.no_grad():
            data = self.model.data_preprocessor(batch, False)
        return self.predict(data['inputs'], data['data_samples'])
