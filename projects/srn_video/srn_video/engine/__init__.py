# Copyright (c) mmfacealign contributors. All rights reserved.
from .clip_loops import ClipTestLoop, ClipValLoop, num_frames
from .hofs_init_hook import HOFSInitHook

__all__ = ['ClipTestLoop', 'ClipValLoop', 'HOFSInitHook', 'num_frames']
