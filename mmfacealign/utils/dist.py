# Copyright (c) mmfacealign contributors. All rights reserved.
"""Distributed training and testing on machines without CUDA.

mmengine 0.10.7's ``init_dist`` for the ``pytorch`` launcher always calls ``torch.cuda.set_device``, so
``tools/dist_train.sh`` fails on a CPU-only machine ("Found no NVIDIA driver"). :func:`prepare_cpu_distributed`
initialises the process group with the gloo backend itself (mmengine then skips its own initialisation) and
lets DDP wrap a CPU module (``device_ids=None``). On machines with CUDA it does nothing.
"""


def prepare_cpu_distributed(cfg, launcher: str):
    """Set up gloo DDP for ``launcher='pytorch'`` without CUDA; returns ``cfg`` (changed in place)."""
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return cfg
    dist.init_process_group(backend='gloo')   # env:// rendezvous set by torchrun
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return cfg
