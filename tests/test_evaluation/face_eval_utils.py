# Copyright (c) mmfacealign contributors. All rights reserved.
"""Helpers for the evaluation tests: packed-sample dicts as mmengine's Evaluator hands them to a metric, and the
worker of the distributed test (top level, so that ``torch.multiprocessing.spawn`` can pickle it)."""
import os

import numpy as np


def face_68(eye_dist: float = 10.0, origin=(50.0, 50.0)) -> np.ndarray:
    """A (68, 2) shape whose outer eye corners 36 and 45 are ``eye_dist`` apart horizontally."""
    rng = np.random.default_rng(123)
    pts = np.asarray(origin) + rng.uniform(-eye_dist, eye_dist, (68, 2))
    pts[36] = [origin[0] - eye_dist / 2, origin[1]]
    pts[45] = [origin[0] + eye_dist / 2, origin[1]]
    return pts


def sample(gt, pred, idx=0, visible=None, occluded=None, subset=None, bbox=None, with_subset=True, **meta):
    """One packed sample dict (``PoseDataSample.to_dict()`` layout: meta keys at the top level)."""
    gt = np.asarray(gt, dtype=np.float32).reshape(1, -1, 2)
    k = gt.shape[1]
    d = dict(
        id=idx,
        img_path=f'img_{idx:03d}.png',
        gt_instances=dict(
            keypoints=gt,
            keypoints_visible=np.ones((1, k), np.float32) if visible is None else np.asarray(
                visible, np.float32).reshape(1, k),
            bboxes=np.array([[0, 0, 100, 100]], np.float32) if bbox is None else np.asarray(
                bbox, np.float32).reshape(1, 4)),
        pred_instances=dict(keypoints=np.asarray(pred, dtype=np.float32).reshape(1, k, 2),
                            keypoint_scores=np.ones((1, k), np.float32)))
    if occluded is not None:
        d['keypoints_occluded'] = np.asarray(occluded, np.float32).reshape(1, k)
    if with_subset:
        d['subset'] = subset
    d.update(meta)
    return d


def random_samples(n: int, seed: int = 0, k: int = 68, tags=('clean', 'occluded', 'masked')):
    """``n`` samples with noisy predictions, random occlusion flags and subset tags (deterministic)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gt = face_68(rng.uniform(20, 60), origin=rng.uniform(60, 120, 2))
        pred = gt + rng.normal(0, rng.uniform(0.5, 5), gt.shape)
        occ = (rng.random(k) < 0.3).astype(np.float32)
        sub = tags[i % len(tags)] if i % 5 else [tags[i % len(tags)], 'extra']
        out.append(sample(gt, pred, idx=i, occluded=occ, subset=sub))
    return out


def dist_worker(rank: int, world_size: int, port: int, n: int, out_dir: str) -> None:
    """Evaluate ``random_samples(n)`` on ``world_size`` gloo ranks, each rank seeing the samples that mmengine's
    ``DefaultSampler(shuffle=False)`` gives it, with ``round_up=True`` (padded, equal shards) and with
    ``round_up=False`` (uneven shards); every rank saves the metrics it gets back."""
    import json

    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), OMP_NUM_THREADS='1')
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        import mmfacealign  # noqa: F401
        from mmfacealign.evaluation import FaceAlignmentMetric
        samples = random_samples(n)
        total = -(-n // world_size) * world_size
        shards = dict(
            round_up=(samples * 2)[:total][rank:total:world_size],   # padded to a multiple of world_size
            no_round_up=samples[rank:n:world_size])
        out = {}
        for name, mine in shards.items():
            metric = FaceAlignmentMetric(fr_thresholds=(0.05, 0.1), outfile_prefix=os.path.join(out_dir, name))
            metric.dataset_meta = dict(dataset_name='synthface')
            metric.process({}, mine[:3])
            metric.process({}, mine[3:])
            out[name] = metric.evaluate(n)
        with open(os.path.join(out_dir, f'metrics_rank{rank}.json'), 'w') as f:
            json.dump(out, f)
    finally:
        dist.destroy_process_group()
