# Copyright (c) mmfacealign contributors. All rights reserved.
import io
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer

from mmfacealign.apis import inference_config
from mmfacealign.utils import checkpoint_safe_globals
from mmfacealign.utils.io import dump_json_atomic


def test_inference_config_exposes_first_concat_pipeline(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/baselines/td-reg_res18-w32_1xb64-15e_synthface-128x128.py'))
    assert 'pipeline' not in cfg.test_dataloader.dataset            # a ConcatDataset of the three test splits
    inf = inference_config(cfg)
    assert inf.test_dataloader.dataset.pipeline == cfg.test_dataloader.dataset.datasets[0].pipeline
    assert 'pipeline' not in cfg.test_dataloader.dataset            # the caller's config is left alone


def test_mmengine_like_checkpoint_loads_with_safe_torch_load():
    """What mmengine puts into checkpoints (numpy arrays and scalars, HistoryBuffer) loads under weights_only."""
    buf = HistoryBuffer()
    buf.update(1.5)
    state = dict(meta=dict(seed=np.int64(3), dataset_meta=dict(flip_indices=[1, 0], sigmas=np.ones(3)),
                           rng=np.random.get_state()),
                 message_hub=dict(log_scalars=dict(loss=buf)), state_dict=dict(w=torch.ones(2)))
    f = io.BytesIO()
    torch.save(state, f)
    f.seek(0)
    back = torch.load(f, weights_only=True)   # mmfacealign was imported by conftest: the allow-list is active
    assert back['message_hub']['log_scalars']['loss'].current() == 1.5
    np.testing.assert_array_equal(back['meta']['dataset_meta']['sigmas'], np.ones(3))
    assert HistoryBuffer in checkpoint_safe_globals()


class NotAllowListed:
    pass


def test_arbitrary_globals_are_still_refused():
    f = io.BytesIO()
    torch.save(dict(x=NotAllowListed()), f)   # a class nobody allow-listed
    f.seek(0)
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(f, weights_only=True)


def test_dump_json_atomic(tmp_path):
    path = tmp_path / 'sub' / 'x.json'
    dump_json_atomic({'a': 1}, str(path))
    assert path.read_text() == '{"a": 1}'
    with pytest.raises(TypeError):
        dump_json_atomic({'a': object()}, str(path))
    assert path.read_text() == '{"a": 1}' and sorted(p.name for p in path.parent.iterdir()) == ['x.json']


def test_atomic_file_path_and_directory(tmp_path):
    from mmfacealign.utils.io import atomic_directory, atomic_file, atomic_path
    target = tmp_path / 'blob.bin'
    with atomic_file(str(target), 'wb', fsync=True) as f:
        f.write(b'abc')
    with pytest.raises(RuntimeError), atomic_file(str(target), 'wb') as f:
        f.write(b'half')
        raise RuntimeError('killed mid-write')
    assert target.read_bytes() == b'abc' and sorted(p.name for p in tmp_path.iterdir()) == ['blob.bin']
    arr = tmp_path / 'a.npz'
    with atomic_path(str(arr)) as tmp:
        assert tmp.endswith('.npz') and tmp != str(arr)
        np.savez(tmp, x=np.arange(3))
    assert np.load(arr)['x'].tolist() == [0, 1, 2]
    # a directory appears whole or not at all; an old one is replaced only once the new one is complete
    out = tmp_path / 'data'
    with atomic_directory(str(out)) as tmp:
        (Path(tmp) / 'meta.json').write_text('1')
    with pytest.raises(RuntimeError), atomic_directory(str(out)) as tmp:
        (Path(tmp) / 'meta.json').write_text('2')
        raise RuntimeError('killed mid-generation')
    assert (out / 'meta.json').read_text() == '1'
    stale = tmp_path / 'data.partial-999999999'                  # a dead writer's leftovers
    stale.mkdir()
    with atomic_directory(str(out)) as tmp:
        (Path(tmp) / 'meta.json').write_text('3')
    assert (out / 'meta.json').read_text() == '3' and not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.npz', 'blob.bin', 'data']


def test_boxes_by_hand():
    from mmfacealign.utils.boxes import box_area, box_iou, landmark_box
    pts = np.array([[1., 2.], [5., 4.], [np.nan, 0.], [3., 10.]])
    np.testing.assert_array_equal(landmark_box(pts), [1, 2, 5, 10])                 # the NaN point ignored
    np.testing.assert_array_equal(landmark_box(pts, margin=0.5), [-1, -2, 7, 14])    # size (4, 8) x 0.5 a side
    with pytest.raises(ValueError, match='no finite landmark'):
        landmark_box(np.full((3, 2), np.nan))
    np.testing.assert_array_equal(box_area([[0, 0, 2, 3], [1, 1, 0, 5]]), [6, 0])     # an inverted box: area 0
    # (0,0,2,2) and (1,1,3,3): intersection 1, union 7; an empty pair gives 0, not NaN
    iou = box_iou([[0, 0, 2, 2], [5, 5, 5, 5]], [[1, 1, 3, 3], [5, 5, 5, 5]])
    np.testing.assert_allclose(iou, [[1 / 7, 0], [0, 0]])
