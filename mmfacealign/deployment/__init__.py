# Copyright (c) mmfacealign contributors. All rights reserved.
"""Deployment: ONNX export of any mmfacealign (or MMPose top-down) model and an onnxruntime inference backend with
the same pre- and post-processing as PyTorch inference (``tools/deployment/export_onnx.py`` is the CLI)."""
from .onnx_export import ExportError, OnnxCheckError, UnsupportedOpError, build_model, check_onnx, export_onnx
from .ort_backend import ORTFaceAligner

__all__ = ['ExportError', 'OnnxCheckError', 'UnsupportedOpError', 'build_model', 'check_onnx', 'export_onnx',
           'ORTFaceAligner']
