# Copyright (c) mmfacealign contributors. All rights reserved.
"""SRN for video (Zhu et al., Pattern Recognition 2022, Sec. 3.2 and Eq. 13): clip datasets, the occlusion-robust
tracker, hard occluded face synthesis (HOFS) by deep Q-learning, and the temporal-stability metric.

Import it through a config's ``custom_imports = dict(imports=['mmfacealign', 'srn_video'])``
(with ``projects/srn_video`` on ``PYTHONPATH``, as MMPose's ``projects/``)."""
import mmfacealign  # noqa: F401  (registers the SRN head, losses, datasets and hooks this project builds on)

from . import apis, datasets, engine, evaluation, hofs, models  # noqa: F401

__all__ = ['apis', 'datasets', 'engine', 'evaluation', 'hofs', 'models']
