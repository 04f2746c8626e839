# Copyright (c) mmfacealign contributors. All rights reserved.
"""mmfacealign: occlusion-robust face alignment for MMPose.

Importing this package registers every mmfacealign module into MMPose's registries (``MODELS``, ``DATASETS``,
``TRANSFORMS``, ``METRICS``, ``HOOKS`` and ``VISUALIZERS``), and lets ``torch.load`` read mmengine checkpoints
under torch's safe loading (see ``mmfacealign.utils.checkpoint_compat``). Configs do it with
``custom_imports = dict(imports=['mmfacealign'], allow_failed_imports=False)``.
"""
from .utils import allow_mmengine_checkpoints
from .version import __version__, version_info

allow_mmengine_checkpoints()

from . import apis, datasets, engine, evaluation, models, visualization  # noqa: E402,F401  (registration)

__all__ = ['__version__', 'version_info']
