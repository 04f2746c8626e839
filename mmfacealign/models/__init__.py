# Copyright (c) mmfacealign contributors. All rights reserved.
from .utils import *  # noqa: F401,F403
