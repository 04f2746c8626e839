# Copyright (c) mmfacealign contributors. All rights reserved.
"""Generate the SynthFace dataset: images plus COCO-style annotations that MMPose's ``Face300WDataset`` reads.

Layout written under ``out_dir`` (default ``data/synthface``)::

    images/{train,val,test,test_occluded,test_masked}/000000.png ...
    annotations/synthface_{train,val,test,test_occluded,test_masked}.json
    meta.json                    # generation settings, shape-model source, per-split counts

Splits: ``train`` and ``val`` (a share of faces carry random occluders; ``val`` is for checkpoint selection, so
that the test splits stay unseen), ``test`` (clean), ``test_occluded`` (every face
has rectangles, textures, hands or sunglasses covering 10-60% of its landmarks) and ``test_masked`` (every face
wears a mask over nose, mouth and jaw).

Each annotation has MMPose's centre/scale fields (``center``, ``scale`` = longer landmark-box side / 200,
``bbox`` = the landmark box ``[x, y, w, h]``, ``keypoints`` as ``x, y, v``) with ``v = 2`` for visible and
``v = 1`` for occluded landmarks, plus ``occluded`` (68 ints), ``subset`` (``clean``/``occluded``/``masked``),
``occluders`` (kind and polygons) and ``pose`` (yaw, pitch, roll in degrees).

Every sample is drawn from its own generator seeded by ``(seed, split, index)``, so the output is identical
for any number of workers. The whole dataset is written to ``<out_dir>.partial-<pid>`` and renamed into place
at the end: an interrupted run leaves no half-written dataset behind.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ...utils.io import atomic_directory, write_json, write_png
from .occluders import OCCLUDER_KINDS, draw_occluder, occluder_mask, occlusion_flags, sample_occluder
from .renderer import apply_photometric, render_background, render_face, sample_style
from .shape_model import PointDistributionModel, load_pdm, place_shape, pose_shape

STYLES = ('flat', '3d')

SPLIT_IDS = {'train': 0, 'test': 1, 'test_occluded': 2, 'test_masked': 3, 'val': 4}
FORMAT_VERSION = 1


@dataclass
class SplitSpec:
    """How the faces of one split are occluded."""
    subset: str
    occluder_prob: float
    kinds: Tuple[str, ...] = ()
    max_occluders: int = 1
    min_occluded: float = 0.0       # share of landmarks that must end up covered (retries placement)
    max_occluded: float = 1.0


SPLITS: Dict[str, SplitSpec] = {
    'train': SplitSpec('mixed', 0.35, ('rectangle', 'texture', 'hand', 'mask', 'sunglasses'), 2),
    'val': SplitSpec('mixed', 0.35, ('rectangle', 'texture', 'hand', 'mask', 'sunglasses'), 2),
    'test': SplitSpec('clean', 0.0),
    'test_occluded': SplitSpec('occluded', 1.0, ('rectangle', 'texture', 'hand', 'sunglasses'), 2, 0.1, 0.6),
    'test_masked': SplitSpec('masked', 1.0, ('mask', )),
}


@dataclass
class SynthFaceConfig:
    """Generation settings. Angles are standard deviations in degrees (clipped at 2.5 sigma).

    ``style``: ``'flat'`` (the original renderer, ``renderer.py``: 2-D shapes posed on a depth template, flat
    tones) or ``'3d'`` (``head3d.py`` / ``renderer3d.py``: a posed 3-D head seen by a pinhole camera, silhouette
    contour, shaded textured skin, hair, ears, glasses, facial hair, photo backgrounds, camera effects). The
    ``'3d'`` style draws wider poses (``yaw_std_3d`` etc. replace the angles above) and takes ``features``:
    a dict of :class:`~mmfacealign.datasets.synthface.renderer3d.RenderFeatures` switches to override, e.g.
    ``{'shading': False}``.
    """
    image_size: int = 128
    num_train: int = 2000
    num_val: int = 300
    num_test: int = 300
    seed: int = 0
    shape_model: str = 'auto'
    yaw_std: float = 18.0
    pitch_std: float = 8.0
    roll_std: float = 12.0
    face_size: Tuple[float, float] = (0.5, 0.68)   # longer landmark-box side, as a share of the image side
    shift: float = 0.06                            # centre jitter, as a share of the image side
    splits: Tuple[str, ...] = field(default_factory=lambda: tuple(SPLITS))
    style: str = 'flat'
    features: Dict[str, object] = field(default_factory=dict)
    yaw_std_3d: float = 25.0
    pitch_std_3d: float = 10.0
    roll_std_3d: float = 12.0

    def num_samples(self, split: str) -> int:
        return dict(train=self.num_train, val=self.num_val).get(split, self.num_test)

    def __post_init__(self):
        if self.image_size < 32:
            raise ValueError(f'image_size must be at least 32, got {self.image_size}')
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise ValueError(f'unknown split(s) {sorted(unknown)}; known: {list(SPLITS)}')
        self.face_size = tuple(float(v) for v in self.face_size)
        self.splits = tuple(self.splits)
        if self.style not in STYLES:
            raise ValueError(f'unknown SynthFace style {self.style!r}; choose one of {STYLES}')
        from .renderer3d import RenderFeatures
        known = set(RenderFeatures.__dataclass_fields__)
        bad = set(self.features) - known
        if bad:
            raise ValueError(f'unknown SynthFace feature(s) {sorted(bad)}; known: {sorted(known)}')
        self.features = dict(self.features)

    def render_features(self):
        from .renderer3d import RenderFeatures
        return RenderFeatures(**self.features)


# settings added after format version 1 was first written, with the value that reproduces the older datasets
LATER_SETTINGS = dict(style='flat', features={}, yaw_std_3d=25.0, pitch_std_3d=10.0, roll_std_3d=12.0)


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_IDS[split], index]))


def generate_sample(cfg: SynthFaceConfig, pdm: PointDistributionModel, split: str,
                    index: int) -> Tuple[np.ndarray, dict]:
    """Render face ``index`` of ``split``; returns the BGR image and its annotation fields."""
    if cfg.style == '3d':
        return generate_sample_3d(cfg, pdm, split, index)
    rng = sample_rng(cfg.seed, split, index)
    spec = SPLITS[split]
    size = cfg.image_size
    deg = np.radians
    yaw, pitch, roll = (float(np.clip(rng.standard_normal(), -2.5, 2.5)) * s
                        for s in (cfg.yaw_std, cfg.pitch_std, cfg.roll_std))
    shape = pose_shape(pdm.sample(rng), pdm.depth, deg(yaw), deg(pitch), deg(roll))
    centre = size / 2 + rng.uniform(-cfg.shift, cfg.shift, 2) * size
    pts = place_shape(shape, centre, rng.uniform(*cfg.face_size) * size)

    img = render_background(rng, size, size)
    render_face(img, pts, sample_style(rng), rng)

    occluders = _place_occluders(spec, rng, pts, size)
    for occ in occluders:
        draw_occluder(img, occ, rng)
    flags = occlusion_flags(occluder_mask(occluders, size, size), pts)
    img = apply_photometric(img, rng)

    ann = dict(
        keypoints=pts, occluded=flags, subset=spec.subset, occluders=[o.to_json() for o in occluders],
        pose=dict(yaw=round(yaw, 3), pitch=round(pitch, 3), roll=round(roll, 3)))
    return img, ann


def _place_occluders(spec: SplitSpec, rng: np.random.Generator, pts: np.ndarray, size: int) -> list:
    """Occluders of one face of a split (retrying placement until the covered share is in the split's range)."""
    occluders = []
    if spec.kinds and rng.random() < spec.occluder_prob:
        n = int(rng.integers(1, spec.max_occluders + 1))
        for attempt in range(20):
            occluders = [sample_occluder(spec.kinds[rng.integers(len(spec.kinds))], rng, pts) for _ in range(n)]
            share = occlusion_flags(occluder_mask(occluders, size, size), pts).mean()
            if spec.min_occluded <= share <= spec.max_occluded:
                break
    return occluders


def generate_sample_3d(cfg: SynthFaceConfig, pdm: PointDistributionModel, split: str,
                       index: int) -> Tuple[np.ndarray, dict]:
    """Face ``index`` of ``split`` in the ``'3d'`` style (``head3d.py``, ``renderer3d.py``)."""
    from .head3d import Camera, remove_pose_modes
    from .renderer3d import build_geometry, render_face3d, sample_style3d
    rng = sample_rng(cfg.seed, split, index)
    spec = SPLITS[split]
    features = cfg.render_features()
    size = cfg.image_size
    yaw, pitch, roll = (float(np.clip(rng.standard_normal(), -2.5, 2.5)) * s
                        for s in (cfg.yaw_std_3d, cfg.pitch_std_3d, cfg.roll_std_3d))
    distance = float(np.exp(rng.uniform(np.log(5.0), np.log(20.0)))) if features.perspective else 1e6
    camera = Camera(np.radians(yaw), np.radians(pitch), np.radians(roll), distance)
    shape = remove_pose_modes(pdm.sample(rng), pdm.mean, pdm.depth)
    depth = pdm.depth * rng.uniform(0.85, 1.15)
    centre = size / 2 + rng.uniform(-cfg.shift, cfg.shift, 2) * size
    geo = build_geometry(shape, depth, camera, centre, rng.uniform(*cfg.face_size) * size, features)
    pts = geo.pts
    bank = None
    if features.photo_background or features.photo_occluders:
        from .photo_textures import get_photo_bank, sample_background, sample_texture
        bank = get_photo_bank()
    if features.photo_background and rng.random() < features.photo_background_prob:
        img = sample_background(rng, size, size, bank)
    else:
        img = render_background(rng, size, size)
    render_face3d(img, geo, sample_style3d(rng, features), features, rng)
    occluders = _place_occluders(spec, rng, pts, size)
    texture_fn = (lambda r, h, w: sample_texture(r, h, w, bank)) if features.photo_occluders else None
    for occ in occluders:
        draw_occluder(img, occ, rng, texture_fn=texture_fn if rng.random() < 0.6 else None)
    flags = occlusion_flags(occluder_mask(occluders, size, size), pts)
    if features.camera_effects:
        from .camera_effects import CameraEffects, apply_camera_effects
        img = apply_camera_effects(img, rng, CameraEffects())
    else:
        img = apply_photometric(img, rng)
    ann = dict(
        keypoints=pts, occluded=flags, subset=spec.subset, occluders=[o.to_json() for o in occluders],
        pose=dict(yaw=round(yaw, 3), pitch=round(pitch, 3), roll=round(roll, 3)))
    return img, ann


def coco_annotation(ann: dict, image_id: int) -> dict:
    """MMPose centre/scale annotation (``Face300WDataset``) with SynthFace's extra fields."""
    pts, flags = ann['keypoints'], ann['occluded']
    lo, hi = pts.min(0), pts.max(0)
    w, h = hi - lo
    kpts = np.concatenate([pts, np.where(flags, 1, 2)[:, None]], 1)
    return dict(
        id=image_id, image_id=image_id, category_id=1, iscrowd=0, num_keypoints=int(len(pts)),
        keypoints=[round(float(v), 3) for v in kpts.reshape(-1)],
        bbox=[round(float(v), 3) for v in (lo[0], lo[1], w, h)], area=round(float(w * h), 3),
        center=[round(float(v), 3) for v in (lo + hi) / 2], scale=round(float(max(w, h)) / 200, 6),
        occluded=[int(f) for f in flags], subset=ann['subset'], occluders=ann['occluders'], pose=ann['pose'])


# --------------------------------------------------------------------------------------------- writing
_WORKER: dict = {}


def _init_worker(cfg: SynthFaceConfig, pdm: PointDistributionModel, root: str) -> None:
    cv2.setNumThreads(1)
    _WORKER.update(cfg=cfg, pdm=pdm, root=root)


def map_jobs(fn: Callable, jobs: Sequence, workers: int, initargs: tuple) -> List:
    """``[fn(job) for job in jobs]`` in order, in ``workers`` processes (each set up by ``_init_worker(*initargs)``)
    or in this one when ``workers <= 1``. Shared by the image and the video generators."""
    if workers <= 1:
        _init_worker(*initargs)
        return [fn(job) for job in jobs]
    ctx = get_context('fork' if hasattr(os, 'fork') else 'spawn')
    with ctx.Pool(workers, initializer=_init_worker, initargs=initargs) as pool:
        return list(pool.imap(fn, jobs))


def _work(job: Tuple[str, int, int]) -> List[dict]:
    split, start, stop = job
    cfg, pdm, root = _WORKER['cfg'], _WORKER['pdm'], _WORKER['root']
    out = []
    for i in range(start, stop):
        img, ann = generate_sample(cfg, pdm, split, i)
        rel = f'{split}/{i:06d}.png'
        write_png(osp.join(root, 'images', rel), img)
        out.append(dict(file_name=rel, ann=ann))
    return out


def read_meta(out_dir: str) -> Optional[dict]:
    """The ``meta.json`` of a complete SynthFace directory, or None."""
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def write_synthface(out_dir: str, cfg: Optional[SynthFaceConfig] = None, workers: int = 1, force: bool = False,
                    pdm: Optional[PointDistributionModel] = None, log=print) -> dict:
    """Generate SynthFace into ``out_dir`` and return its ``meta.json`` content.

    An existing complete dataset with the same settings is reused; one with other settings is an error unless
    ``force`` (then it is replaced only once the new one is complete).
    """
    cfg = cfg or SynthFaceConfig()
    settings = _jsonable(asdict(cfg))
    meta = read_meta(out_dir)
    if meta is not None and not force:
        if {**LATER_SETTINGS, **meta.get('config', {})} == settings and meta.get('format_version') == FORMAT_VERSION:
            log(f'SynthFace already present in {out_dir}; reusing it')
            return meta
        raise FileExistsError(
            f'{out_dir} holds a SynthFace dataset generated with other settings ({meta.get("config")}); '
            f'pass --force to replace it or choose another --out-dir')
    if meta is None and osp.exists(out_dir) and os.listdir(out_dir) and not force:
        raise FileExistsError(f'{out_dir} exists and is not a SynthFace dataset (no meta.json); '
                              f'remove it, pass --force, or choose another --out-dir')
    pdm = pdm or load_pdm(cfg.shape_model)
    start = time.time()
    with atomic_directory(out_dir) as tmp:
        os.makedirs(osp.join(tmp, 'annotations'))
        jobs = []
        for split in cfg.splits:
            os.makedirs(osp.join(tmp, 'images', split))
            n = cfg.num_samples(split)
            chunk = 64
            jobs += [(split, s, min(s + chunk, n)) for s in range(0, n, chunk)]
        results: Dict[str, List[dict]] = {s: [] for s in cfg.splits}
        for job, out in zip(jobs, map_jobs(_work, jobs, workers, (cfg, pdm, tmp))):
            results[job[0]] += out
        counts = {}
        for split in cfg.splits:
            coco = dict(
                info=dict(description=f'SynthFace {split}', version=FORMAT_VERSION, seed=cfg.seed),
                categories=[dict(supercategory='person', id=1, name='face', keypoints=[], skeleton=[])],
                images=[], annotations=[])
            for i, rec in enumerate(results[split]):
                coco['images'].append(dict(id=i, file_name=rec['file_name'], height=cfg.image_size,
                                           width=cfg.image_size))
                coco['annotations'].append(coco_annotation(rec['ann'], i))
            write_json(coco, osp.join(tmp, 'annotations', f'synthface_{split}.json'))
            counts[split] = len(results[split])
        meta = dict(format_version=FORMAT_VERSION, config=settings, shape_model_source=pdm.source,
                    num_keypoints=68, splits=counts)
        features = cfg.render_features()
        if cfg.style == '3d' and (features.photo_background or features.photo_occluders):
            from .photo_textures import get_photo_bank
            meta['photo_sources'] = get_photo_bank().meta()     # which photographs, from which package version
        with open(osp.join(tmp, 'meta.json'), 'w', encoding='utf-8') as f:
            json.dump(meta, f, indent=2)
    total = sum(counts.values())
    elapsed = time.time() - start
    log(f'SynthFace: wrote {total} faces ({counts}) to {out_dir} in {elapsed:.1f} s '
        f'({total / max(elapsed, 1e-9):.0f} faces/s, {workers} worker(s)); shape model: {pdm.source}')
    return meta


def _jsonable(obj):
    """Round-trip through JSON so settings compare equal to what meta.json holds (tuples -> lists)."""
    return json.loads(json.dumps(obj))


__all__ = ['SynthFaceConfig', 'SPLITS', 'STYLES', 'OCCLUDER_KINDS', 'generate_sample', 'write_synthface', 'read_meta']
