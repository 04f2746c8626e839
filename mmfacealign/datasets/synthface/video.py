# Copyright (c) mmfacealign contributors. All rights reserved.
"""SynthFace video: short clips of one procedural face that moves, turns and changes expression smoothly.

API: :func:`write_synthface_video` writes a dataset from a :class:`SynthFaceVideoConfig` (what
``tools/misc/generate_synthface.py --video`` runs); :func:`generate_video` renders one video (frames and annotation
fields), :func:`face_track` gives its landmarks and pose, :func:`passing_occluders` its passing occluders.
:data:`CATEGORIES` holds the three :class:`VideoCategory` settings, in the spirit of 300VW's: video ``v`` of a split
is ``category{v % 3 + 1}`` (:func:`video_category`): mild motion; stronger motion under changing illumination; the
strongest motion with 1-2 occluders (``rectangle``, ``texture``, ``hand``) passing across the face.

Layout written under ``out_dir`` (default ``data/synthface_video``)::

    images/{train,test}/{video:04d}/{frame:06d}.png
    annotations/synthface_video_{train,test}.json
    meta.json                    # settings, shape-model source, per-split video and frame counts

``file_name`` is ``'{split}/{video:04d}/{frame:06d}.png'``, the rule of MMPose's 300VW layout that
``FaceVideoClipDataset`` groups by. Each annotation has the SynthFace image fields (``center``, ``scale``, ``bbox``,
``keypoints`` with ``v = 1`` occluded / ``v = 2`` visible, ``occluded``, ``occluders``, ``pose``) plus ``video_id``,
``frame_id``, ``category``, ``still`` (the landmarks equal the previous frame's exactly; False on frame 0) and
``subset`` = ``[category, 'occluded' | 'clean']``, so ``FaceAlignmentMetric`` reports per category and per occlusion
state. The image entries carry ``video_id`` and ``frame_id`` too.

Motion: the timeline alternates moving and still segments (``move_frames``, ``hold_frames``); at each key-frame the
face takes a new expression, pose, centre and size, eased with a cosine between key-frames (C1-smooth) and repeated
exactly through a still segment. Appearance is constant per video; only the sensor noise is drawn per frame. Every
random stream is seeded by ``SeedSequence([seed, split id, video, VIDEO_STREAM, purpose, ...])``, so the output does
not depend on the number of workers; the dataset is written atomically and reused when its settings match.

The README's SynthFace section ("SynthFace video") describes the motion, the categories and the occluders in full,
with measured motion statistics and generation times.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...utils.io import atomic_directory, write_json, write_png
from .generator import _WORKER, SPLIT_IDS, _jsonable, coco_annotation, map_jobs, read_meta
from .occluders import Occluder, draw_occluder, occluder_mask, occlusion_flags, sample_occluder
from .renderer import apply_photometric, render_background, render_face, sample_style, unit_grid
from .shape_model import PointDistributionModel, load_pdm, pose_shape

VIDEO_FORMAT_VERSION = 1
VIDEO_STREAM = 7            # separates the video streams from the image generator's (seed, split, index)
VIDEO_SPLITS = ('train', 'val', 'test')
PASSING_KINDS = ('rectangle', 'texture', 'hand')


@dataclass(frozen=True)
class VideoCategory:
    """Motion, illumination and occlusion of one video category (angles in degrees; values in :data:`CATEGORIES`)."""
    name: str
    pose_limit: Tuple[float, float, float]      # |yaw|, |pitch|, |roll| bounds
    pose_step: Tuple[float, float, float]       # largest change per key-frame
    shift: float                                # centre key-frames within +-shift * image side of the centre
    size_jitter: float                          # face size key-frames within (1 +- size_jitter) * video size
    expression: float                           # key shape = base + expression * (fresh sample - base)
    illumination: bool                          # time-varying gain and directional ramp
    occluders: Tuple[int, int]                  # passing occluders per video (min, max)


CATEGORIES: Dict[str, VideoCategory] = {
    c.name: c for c in (
        VideoCategory('category1', (15., 8., 8.), (10., 6., 6.), 0.04, 0.04, 0.25, False, (0, 0)),
        VideoCategory('category2', (30., 12., 15.), (18., 8., 10.), 0.06, 0.06, 0.4, True, (0, 0)),
        VideoCategory('category3', (45., 15., 25.), (25., 10., 15.), 0.08, 0.08, 0.7, False, (1, 2)),
    )
}


def video_category(video: int) -> VideoCategory:
    """Category of video ``video`` of a split: ``category{video % 3 + 1}``."""
    return list(CATEGORIES.values())[video % len(CATEGORIES)]


@dataclass
class SynthFaceVideoConfig:
    """Video generation settings (CPU-sized defaults: 48 train and 12 test videos of 32 frames, 128x128)."""
    image_size: int = 128
    num_videos_train: int = 48
    num_videos_val: int = 0
    num_videos_test: int = 12
    frames: int = 32
    seed: int = 0
    shape_model: str = 'auto'
    face_size: Tuple[float, float] = (0.45, 0.6)    # longer side of the frontal face, share of the image side
    move_frames: Tuple[int, int] = (8, 16)          # frame intervals of a moving segment (inclusive range)
    hold_frames: Tuple[int, int] = (4, 8)           # frame intervals of a still segment (inclusive range)
    splits: Tuple[str, ...] = field(default_factory=lambda: ('train', 'test'))

    def num_videos(self, split: str) -> int:
        return dict(train=self.num_videos_train, val=self.num_videos_val, test=self.num_videos_test)[split]

    def __post_init__(self):
        if self.image_size < 32:
            raise ValueError(f'image_size must be at least 32, got {self.image_size}')
        if self.frames < 2:
            raise ValueError(f'frames must be at least 2, got {self.frames}')
        for name in ('move_frames', 'hold_frames'):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f'{name} must be (lo, hi) with 1 <= lo <= hi, got {getattr(self, name)}')
        unknown = set(self.splits) - set(VIDEO_SPLITS)
        if unknown:
            raise ValueError(f'unknown video split(s) {sorted(unknown)}; known: {list(VIDEO_SPLITS)}')
        self.face_size = tuple(float(v) for v in self.face_size)
        self.move_frames = tuple(int(v) for v in self.move_frames)
        self.hold_frames = tuple(int(v) for v in self.hold_frames)
        self.splits = tuple(self.splits)


def video_rng(seed: int, split: str, video: int, *purpose: int) -> np.random.Generator:
    """The generator of one random stream of one video (``purpose``: which stream, and the frame if per frame)."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_IDS[split], video, VIDEO_STREAM, *purpose]))


# stream ids
_MOTION, _BACKGROUND, _STYLE, _FACE, _PHOTO, _NOISE, _OCCLUDER = range(7)


# --------------------------------------------------------------------------------------------- trajectories
def segments(rng: np.random.Generator, frames: int, move: Sequence[int],
             hold: Sequence[int]) -> List[Tuple[int, int, bool]]:
    """Cut frames ``0 .. frames-1`` into ``(start, end, still)`` segments; neighbours share their key-frame.

    Moving and still segments alternate (the first is chosen at random); a segment spans ``move`` / ``hold``
    frame intervals (inclusive ranges). The last one may end after the last frame: the video stops inside it,
    so its motion keeps the pace of a full segment.
    """
    out, t, still = [], 0, bool(rng.random() < 0.5)
    while t < frames - 1:
        lo, hi = hold if still else move
        end = t + int(rng.integers(lo, hi + 1))
        out.append((t, end, still))
        t, still = end, not still
    return out


def ease_weights(segs: Sequence[Tuple[int, int, bool]], frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """Per frame ``(F,)``: the segment index and the cosine-eased weight ``(1 - cos(pi u)) / 2`` of its end key.

    A still segment gets weight 0 on all its frames (its start key, exactly: ``a (1 - w) + a w`` need not round
    to ``a``); a shared key-frame belongs to the later segment, where its weight is 0 too.
    """
    seg_of = np.zeros(frames, np.int64)
    weight = np.zeros(frames)
    for k, (start, end, still) in enumerate(segs):
        t = np.arange(start, min(end, frames - 1) + 1)
        seg_of[t] = k
        weight[t] = 0.0 if still else (1 - np.cos(np.pi * (t - start) / (end - start))) / 2
    return seg_of, weight


def interpolate(keys: np.ndarray, seg_of: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Eased values per frame ``(F, ...)`` from key states ``(num_segments + 1, ...)``."""
    w = weight.reshape((-1, ) + (1, ) * (keys.ndim - 1))
    return keys[seg_of] * (1 - w) + keys[seg_of + 1] * w


def _random_walk(rng, n: int, limit: Sequence[float], step: Sequence[float], moves: Sequence[bool]) -> np.ndarray:
    limit, step = np.asarray(limit), np.asarray(step)
    out = [np.clip(rng.standard_normal(len(limit)) * limit / 2, -limit, limit)]
    for k in range(n - 1):
        delta = rng.uniform(-step, step) if moves[k] else 0.0
        out.append(np.clip(out[-1] + delta, -limit, limit))
    return np.stack(out)


def face_track(cfg: SynthFaceVideoConfig, pdm: PointDistributionModel, split: str, video: int) -> dict:
    """Landmarks and pose of every frame of one video, and its timeline.

    Returns:
        dict: ``pts`` ``(F, 68, 2)`` image coordinates, ``pose`` ``(F, 3)`` yaw/pitch/roll in degrees,
        ``segments`` (see :func:`segments`), ``category`` (:class:`VideoCategory`).
    """
    cat = video_category(video)
    rng = video_rng(cfg.seed, split, video, _MOTION)
    size = cfg.image_size
    segs = segments(rng, cfg.frames, cfg.move_frames, cfg.hold_frames)
    moves = [not still for _, _, still in segs]
    n = len(segs) + 1

    base = pdm.sample(rng)
    shapes = [base]
    for k in range(n - 1):
        shapes.append(shapes[-1] if not moves[k] else base + cat.expression * (pdm.sample(rng) - base))
    pose = _random_walk(rng, n, cat.pose_limit, cat.pose_step, moves)
    centre = [size / 2 + rng.uniform(-cat.shift, cat.shift, 2) * size]
    face = rng.uniform(*cfg.face_size) * size
    scale = [face]
    for k in range(n - 1):
        centre.append(size / 2 + rng.uniform(-cat.shift, cat.shift, 2) * size if moves[k] else centre[-1])
        scale.append(face * (1 + rng.uniform(-cat.size_jitter, cat.size_jitter)) if moves[k] else scale[-1])

    seg_of, w = ease_weights(segs, cfg.frames)
    shape_t = interpolate(np.stack(shapes), seg_of, w)
    pose_t = interpolate(pose, seg_of, w)
    centre_t = interpolate(np.stack(centre), seg_of, w)
    size_t = interpolate(np.asarray(scale), seg_of, w)
    lo, hi = base.min(0), base.max(0)
    unit = 1.0 / float(max(hi - lo))
    pts = np.stack([
        (pose_shape(s, pdm.depth, *np.radians(p)) - (lo + hi) / 2) * (unit * z) + c
        for s, p, c, z in zip(shape_t, pose_t, centre_t, size_t)])
    return dict(pts=pts, pose=pose_t, segments=segs, category=cat)


def illumination_track(rng: np.random.Generator, cfg: SynthFaceVideoConfig) -> np.ndarray:
    """Per frame ``(F, 3)``: gain, ramp strength and ramp direction (radians), eased over 8-16 frame segments."""
    segs = segments(rng, cfg.frames, (8, 16), (8, 16))
    segs = [(s, e, False) for s, e, _ in segs]
    n = len(segs) + 1
    direction = np.cumsum(np.concatenate([[rng.uniform(0, 2 * np.pi)], rng.uniform(-np.pi / 2, np.pi / 2, n - 1)]))
    keys = np.stack([rng.uniform(0.55, 1.35, n), rng.uniform(0.0, 0.6, n), direction], 1)
    return interpolate(keys, *ease_weights(segs, cfg.frames))


def passing_occluders(rng: np.random.Generator, cat: VideoCategory, pts: np.ndarray,
                      size: int) -> List[Tuple[Occluder, int, int, np.ndarray]]:
    """Occluders that cross the image: ``(geometry at its middle frame, first frame, last frame, travel)``.

    At frame ``t`` of its window the occluder is translated by ``travel * (2 (t - first) / (last - first) - 1)``:
    it lies wholly outside the image at both ends of the window and at its sampled place in the middle frame,
    where it covers at least one landmark (placement retried up to 20 times).
    """
    frames = len(pts)
    out = []
    if frames < 3:      # no room to enter and leave
        return out
    for _ in range(int(rng.integers(cat.occluders[0], cat.occluders[1] + 1))):
        # an even span of 40-80 % of the video (at least 2), so that the middle frame is a whole frame
        half = int(rng.integers(max(1, round(0.2 * (frames - 1))), max(1, int(0.4 * (frames - 1))) + 1))
        first = int(rng.integers(0, frames - 1 - 2 * half + 1))
        mid = first + half
        kind = PASSING_KINDS[rng.integers(len(PASSING_KINDS))]
        for _attempt in range(20):      # placed so that it covers a landmark of the middle frame's face
            occ = sample_occluder(kind, rng, pts[mid])
            if occlusion_flags(occluder_mask([occ], size, size), pts[mid]).any():
                break
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a)])
        proj = np.concatenate(occ.polygons) @ d
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ d
        # smallest distance along d that puts every polygon point beyond the image on either side, plus a margin
        reach = max(corners.max() - proj.min(), proj.max() - corners.min()) + 2.0
        out.append((occ, first, first + 2 * half, d * reach))
    return out


def occluders_at(passing, t: int) -> List[Occluder]:
    """The passing occluders present in frame ``t``, translated to their place."""
    out = []
    for occ, first, last, travel in passing:
        if first < t < last:
            off = travel * (2.0 * (t - first) / (last - first) - 1.0)
            out.append(Occluder(occ.kind, [p + off for p in occ.polygons]))
    return out


# --------------------------------------------------------------------------------------------- rendering
def generate_video(cfg: SynthFaceVideoConfig, pdm: PointDistributionModel, split: str,
                   video: int) -> Tuple[List[np.ndarray], List[dict]]:
    """Render video ``video`` of ``split``: BGR frames ``(H, W, 3)`` uint8 and their annotation fields."""
    track = face_track(cfg, pdm, split, video)
    cat, pts_t = track['category'], track['pts']
    size = cfg.image_size
    rng = video_rng(cfg.seed, split, video, _MOTION, 1)
    passing = passing_occluders(rng, cat, pts_t, size)
    light = illumination_track(rng, cfg) if cat.illumination else None
    noise_sigma = float(rng.uniform(0.0, 6.0))

    background = render_background(video_rng(cfg.seed, split, video, _BACKGROUND), size, size)
    style = sample_style(video_rng(cfg.seed, split, video, _STYLE))
    xx, yy = unit_grid(size, size)
    frames, anns = [], []
    for t, pts in enumerate(pts_t):
        img = background.copy()
        render_face(img, pts, style, video_rng(cfg.seed, split, video, _FACE))
        occs = occluders_at(passing, t)
        for k, occ in enumerate(occs):
            draw_occluder(img, occ, video_rng(cfg.seed, split, video, _OCCLUDER, k))
        flags = occlusion_flags(occluder_mask(occs, size, size), pts)
        if light is not None:
            gain, strength, direction = light[t]
            ramp = np.clip(np.cos(direction) * (xx - 0.5) + np.sin(direction) * (yy - 0.5) + 0.5, 0, 1)
            img = np.clip(img * (gain * (1.0 - strength * ramp))[..., None], 0, 255).astype(np.uint8)
        img = apply_photometric(img, video_rng(cfg.seed, split, video, _PHOTO), max_noise=0.0)
        noise = video_rng(cfg.seed, split, video, _NOISE, t).standard_normal(img.shape, dtype=np.float32)
        img = np.clip(img + noise * noise_sigma, 0, 255).astype(np.uint8)
        frames.append(img)
        still = t > 0 and bool(np.array_equal(pts, pts_t[t - 1]))
        yaw, pitch, roll = (round(float(v), 3) for v in track['pose'][t])
        anns.append(dict(
            keypoints=pts, occluded=flags, subset=[cat.name, 'occluded' if flags.any() else 'clean'],
            occluders=[o.to_json() for o in occs], pose=dict(yaw=yaw, pitch=pitch, roll=roll),
            category=cat.name, still=still))
    return frames, anns


# --------------------------------------------------------------------------------------------- writing
def _render_job(job: Tuple[str, int]) -> List[dict]:
    split, video = job
    cfg, pdm, root = _WORKER['cfg'], _WORKER['pdm'], _WORKER['root']
    folder = osp.join(root, 'images', split, f'{video:04d}')
    os.makedirs(folder)
    frames, anns = generate_video(cfg, pdm, split, video)
    records = []
    for t, (img, ann) in enumerate(zip(frames, anns)):
        rel = f'{split}/{video:04d}/{t:06d}.png'
        write_png(osp.join(root, 'images', rel), img)
        records.append(dict(file_name=rel, video=video, frame=t, ann=ann))
    return records


def video_coco(records: List[dict], cfg: SynthFaceVideoConfig, split: str) -> dict:
    """The COCO dict of one split from ``_render_job`` records (frames in video, then frame order)."""
    images, annotations = [], []
    for i, rec in enumerate(records):
        ann = rec['ann']
        images.append(dict(id=i, file_name=rec['file_name'], height=cfg.image_size, width=cfg.image_size,
                           video_id=rec['video'], frame_id=rec['frame']))
        coco = coco_annotation(ann, i)
        coco.update(video_id=rec['video'], frame_id=rec['frame'], category=ann['category'], still=ann['still'])
        annotations.append(coco)
    return dict(
        info=dict(description=f'SynthFace video {split}', version=VIDEO_FORMAT_VERSION, seed=cfg.seed),
        categories=[dict(supercategory='person', id=1, name='face', keypoints=[], skeleton=[])],
        images=images, annotations=annotations)


def _check_target(out_dir: str, settings: dict, force: bool) -> Optional[dict]:
    """The meta of a reusable dataset in ``out_dir``, None if it is to be (re)generated; raises on a conflict."""
    meta = read_meta(out_dir)
    if force:
        return None
    if meta is None:
        if osp.isdir(out_dir) and os.listdir(out_dir):
            raise FileExistsError(f'{out_dir} exists and is not a SynthFace video dataset (no meta.json); '
                                  f'remove it, pass --force, or choose another --out-dir')
        return None
    same = (meta.get('kind') == 'video' and meta.get('format_version') == VIDEO_FORMAT_VERSION
            and meta.get('config') == settings)
    if not same:
        raise FileExistsError(f'{out_dir} holds a SynthFace dataset generated with other settings '
                              f'({meta.get("config")}); pass --force to replace it or choose another --out-dir')
    return meta


def write_synthface_video(out_dir: str, cfg: Optional[SynthFaceVideoConfig] = None, workers: int = 1,
                          force: bool = False, pdm: Optional[PointDistributionModel] = None, log=print) -> dict:
    """Generate SynthFace video into ``out_dir`` and return its ``meta.json`` content.

    An existing complete dataset with the same settings is reused; one with other settings is an error unless
    ``force`` (then it is replaced once the new one is complete). The output is identical for any ``workers``.
    """
    cfg = cfg or SynthFaceVideoConfig()
    settings = _jsonable(asdict(cfg))
    meta = _check_target(out_dir, settings, force)
    if meta is not None:
        log(f'SynthFace video already present in {out_dir}; reusing it')
        return meta
    pdm = pdm or load_pdm(cfg.shape_model)
    start = time.time()
    jobs = [(split, v) for split in cfg.splits for v in range(cfg.num_videos(split))]
    with atomic_directory(out_dir) as tmp:
        os.makedirs(osp.join(tmp, 'annotations'))
        for split in cfg.splits:
            os.makedirs(osp.join(tmp, 'images', split))
        records: Dict[str, List[dict]] = {s: [] for s in cfg.splits}
        for job, out in zip(jobs, map_jobs(_render_job, jobs, workers, (cfg, pdm, tmp))):
            records[job[0]] += out
        counts = {}
        for split in cfg.splits:
            write_json(video_coco(records[split], cfg, split), osp.join(tmp, 'annotations',
                                                                        f'synthface_video_{split}.json'))
            counts[split] = dict(videos=cfg.num_videos(split), frames=len(records[split]))
        meta = dict(kind='video', format_version=VIDEO_FORMAT_VERSION, config=settings,
                    shape_model_source=pdm.source, num_keypoints=68, splits=counts,
                    categories={k: _jsonable(asdict(c)) for k, c in CATEGORIES.items()})
        with open(osp.join(tmp, 'meta.json'), 'w', encoding='utf-8') as f:
            json.dump(meta, f, indent=2)
    total = sum(c['frames'] for c in counts.values())
    elapsed = time.time() - start
    log(f'SynthFace video: wrote {len(jobs)} videos, {total} frames ({counts}) to {out_dir} in {elapsed:.1f} s '
        f'({total / max(elapsed, 1e-9):.0f} frames/s, {workers} worker(s)); shape model: {pdm.source}')
    return meta


def read_video_split(root: str, split: str = 'test') -> Dict[int, dict]:
    """A written split read back per video: ``{video_id: dict(paths, keypoints (F, 68, 2), occluded (F, 68) bool,
    category)}``, frames in order (from ``annotations/synthface_video_{split}.json`` under ``root``)."""
    path = osp.join(root, 'annotations', f'synthface_video_{split}.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no SynthFace video split {split!r} under {root} (write it with '
                                'tools/misc/generate_synthface.py --video)')
    with open(path) as f:
        coco = json.load(f)
    images = {i['id']: i for i in coco['images']}
    videos: Dict[int, list] = {}
    for ann in coco['annotations']:
        img = images[ann['image_id']]
        kpts = np.asarray(ann['keypoints'], np.float64).reshape(-1, 3)
        videos.setdefault(ann['video_id'], []).append(
            (ann['frame_id'], osp.join(root, 'images', img['file_name']), kpts[:, :2], kpts[:, 2] == 1,
             ann['category']))
    out = {}
    for vid, frames in sorted(videos.items()):
        frames.sort(key=lambda f: f[0])
        out[vid] = dict(paths=[f[1] for f in frames], keypoints=np.stack([f[2] for f in frames]),
                        occluded=np.stack([f[3] for f in frames]), category=frames[0][4])
    return out


__all__ = [
    'read_video_split',
    'SynthFaceVideoConfig', 'VideoCategory', 'CATEGORIES', 'PASSING_KINDS', 'video_category', 'video_rng',
    'segments', 'face_track', 'generate_video', 'write_synthface_video'
]
