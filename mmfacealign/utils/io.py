# Copyright (c) mmfacealign contributors. All rights reserved.
"""File helpers shared by the converters, the generator and the metric."""
import json
import os
import os.path as osp


def dump_json_atomic(obj, path: str, **json_kwargs) -> None:
    """Write ``obj`` as json to a temporary file beside ``path``, then rename it over ``path``.

    An interrupted write leaves either the old file or none, never a half-written one.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp-{os.getpid()}'
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(obj, f, **json_kwargs)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
