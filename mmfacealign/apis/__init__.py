# Copyright (c) mmfacealign contributors. All rights reserved.
from .inference import inference_config, init_model

__all__ = ['inference_config', 'init_model']
