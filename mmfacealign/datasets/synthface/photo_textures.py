# Copyright (c) mmfacealign contributors. All rights reserved.
"""Photographic backgrounds and occluder fills for SynthFace, cut from face-free photos that registry packages ship.

Only the photos on the allow-list :data:`PHOTOS` are ever read; each is a plain file inside an installed package
(nothing is downloaded: scikit-image's pooch-fetched images are not used). Photos are located through
``importlib.util.find_spec`` and read with OpenCV, so neither package is imported.

The allow-list :data:`PHOTOS` gives each photo's file, package, licence (as the package states it), origin and
weights as a background and as an occluder texture; :class:`PhotoBank` records the installed version of each
package in ``bank.sources``. scikit-learn is optional (its two photos are skipped, with a warning, when it is
missing). Two photos (``china``, ``flower``) are CC BY 2.0 and need attribution: :data:`PHOTOS` and the README of
``sklearn/datasets/images`` give it.

**No faces.** A photo showing a face is never used: such photos are the project's real-photo test set, and an
unlabelled face in a training image is a label error. :data:`EXCLUDED` names the bundled images left out on
purpose, with the reason; asking for one raises. ``tests/test_datasets/test_synthface_photo_camera.py`` runs the
project's face detectors on every allow-listed photo and on random backgrounds (what they find: README.md,
"SynthFace").

API::

    bank = get_photo_bank()                           # default allow-list, loaded once per process
    bank = load_photo_bank(['coffee', 'brick'])       # a subset (also cached)
    img = sample_background(rng, h, w, bank)          # (h, w, 3) uint8 BGR
    fill = sample_texture(rng, h, w, bank)            # (h, w, 3) uint8 BGR, a more zoomed-in patch
    bank.meta()                                       # names, packages, versions, licences: for meta.json

Each call draws a fixed number of values from ``rng`` (one ``rng.random(16)``), so the output is a function of
the generator state, and what follows in the caller's stream does not depend on the photo drawn.
"""
import importlib.metadata
import importlib.util
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotoSource:
    """Where one allow-listed photo lives and how it may be used."""
    package: str          # import name (``skimage``, ``sklearn``)
    dist: str             # distribution name, for the version (``scikit-image``, ``scikit-learn``)
    relpath: str          # path inside the package
    licence: str
    origin: str
    bg_weight: float      # relative frequency as a background
    tex_weight: float     # relative frequency as an occluder texture


def _sk(file, licence, origin, bg, tex):
    return PhotoSource('skimage', 'scikit-image', f'data/{file}', licence, origin, bg, tex)


def _skl(file, licence, origin, bg, tex):
    return PhotoSource('sklearn', 'scikit-learn', f'datasets/images/{file}', licence, origin, bg, tex)


#: The allow-list: face-free photos, by name (see the module docstring).
PHOTOS: Dict[str, PhotoSource] = {
    'coffee': _sk('coffee.png', 'CC0', 'Rachel Michetti', 3, 1),
    'rocket': _sk('rocket.jpg', 'public domain', 'SpaceX (Flickr)', 3, 1),
    'china': _skl('china.jpg', 'CC BY 2.0', 'danielbuechele (Flickr)', 3, 1),
    'flower': _skl('flower.jpg', 'CC BY 2.0', 'vultilion (Flickr)', 3, 1),
    'ihc': _sk('ihc.png', 'no known copyright restrictions', 'immunohistochemistry (scikit-image)', 2, 2),
    'hubble': _sk('hubble_deep_field.jpg', 'public domain', 'NASA (Hubble eXtreme Deep Field)', 1, 1),
    'retina': _sk('retina.jpg', 'CC0', 'Wikimedia, Fundus photograph of normal left eye', 1, 1),
    'clock': _sk('clock_motion.png', 'public domain', 'Stefan van der Walt', 1, 1),
    'brick': _sk('brick.png', 'CC0', 'CC0Textures Bricks25', 2, 3),
    'grass': _sk('grass.png', 'CC0', 'linolafett (DeviantArt)', 2, 3),
    'gravel': _sk('gravel.png', 'CC0', 'CC0Textures Gravel04', 2, 3),
    'page': _sk('page.png', 'none stated (scan of scikit-image docs; package BSD-3-Clause)', 'scikit-image', 1, 2),
    'text': _sk('text.png', 'public domain', 'Wikipedia, File:Corner.png', 1, 2),
    'horse': _sk('horse.png', 'CC0', 'openclipart, Andreas Preuss (marauder)', 0.5, 1),
    'cell': _sk('cell.png', 'CC0', 'scikit-image (qpformat phase image)', 0.5, 1),
}

#: Bundled images that must never be used, with the reason (checked by the tests; asking for one raises).
EXCLUDED: Dict[str, str] = {
    'astronaut': 'human face (skimage; the real-photo test set)',
    'camera': 'human (cameraman; skimage)',
    'cameraman': 'human (skimage camera())',
    'grace_hopper': 'human face (matplotlib sample_data; the real-photo test set)',
    'lfw_subset': 'human faces (skimage, Labeled Faces in the Wild)',
    'coins': 'heads on Greek coins, one of them frontal (skimage)',
    'chelsea': 'frontal close-up of a cat face: eyes, nose and mouth in a face layout (skimage)',
    'logo': 'graphic with a drawn snake head, not a photo (skimage)',
    'motorcycle': 'no licence stated (Middlebury stereo 2014; skimage); MTCNN fires on its front wheel at 2x',
    'moon': 'no licence stated (skimage)',
}
FACE_PHOTOS = ('astronaut', 'camera', 'cameraman', 'grace_hopper', 'lfw_subset')

_MAX_SIDE = 1024          # larger photos (retina 1411 px) are reduced once at load
_MIN_LEVEL_SIDE = 48      # smallest pyramid level kept


@dataclass
class PhotoBank:
    """Loaded photos (BGR uint8) with their names and sources, plus image pyramids for fast zoomed-out crops."""
    names: List[str]
    images: List[np.ndarray]
    sources: List[dict]
    pyramids: List[List[np.ndarray]] = field(default_factory=list, repr=False)
    gray: List[bool] = field(default_factory=list, repr=False)     # gray photos (tinted instead of desaturated)
    bg_cdf: np.ndarray = field(default=None, repr=False)
    tex_cdf: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        if not self.pyramids:
            self.pyramids = [_pyramid(im) for im in self.images]
        if not self.gray:
            self.gray = [bool((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all())
                         for im in self.images]
        w_bg = np.array([PHOTOS[n].bg_weight for n in self.names], np.float64)
        w_tex = np.array([PHOTOS[n].tex_weight for n in self.names], np.float64)
        self.bg_cdf = np.cumsum(w_bg) / w_bg.sum()
        self.tex_cdf = np.cumsum(w_tex) / w_tex.sum()

    def __len__(self) -> int:
        return len(self.names)

    def meta(self) -> List[dict]:
        """JSON-able record of the photos in the bank (name, package, version, file, licence, origin)."""
        return [dict(s) for s in self.sources]


def _pyramid(img: np.ndarray) -> List[np.ndarray]:
    levels = [img]
    while min(levels[-1].shape[:2]) // 2 >= _MIN_LEVEL_SIDE:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def _package_dir(package: str) -> Optional[str]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def _read_photo(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f'cannot read {path}')
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:                   # clip art with alpha: onto white
        a = img[..., 3:].astype(np.float32) / 255.0
        img = (img[..., :3].astype(np.float32) * a + 255.0 * (1 - a)).astype(np.uint8)
    s = _MAX_SIDE / max(img.shape[:2])
    if s < 1:
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


_BANKS: Dict[Tuple[str, ...], PhotoBank] = {}
_WARNED: set = set()


def load_photo_bank(names: Optional[Sequence[str]] = None) -> PhotoBank:
    """The allow-listed photos ``names`` (default: all of :data:`PHOTOS`), loaded once per process.

    A name outside the allow-list raises ``ValueError`` (an :data:`EXCLUDED` one says why); a photo whose package
    is missing is skipped with a warning; ``RuntimeError`` when none is available.
    """
    names = tuple(PHOTOS) if names is None else tuple(names)
    for n in names:
        if n in EXCLUDED:
            raise ValueError(f'photo {n!r} is excluded from SynthFace: {EXCLUDED[n]}')
        if n not in PHOTOS:
            raise ValueError(f'unknown photo {n!r}; allow-listed: {", ".join(PHOTOS)}')
    if names in _BANKS:
        return _BANKS[names]
    got_names, images, sources, missing = [], [], [], []
    for n in names:
        src = PHOTOS[n]
        root = _package_dir(src.package)
        path = osp.join(root, src.relpath) if root else None
        if path is None or not osp.isfile(path):
            missing.append(f'{n} ({src.dist}' + (')' if root is None else f': no {src.relpath})'))
            continue
        images.append(_read_photo(path))
        got_names.append(n)
        sources.append(dict(name=n, package=src.dist, version=_version(src.dist), file=f'{src.package}/{src.relpath}',
                            licence=src.licence, origin=src.origin))
    if missing:
        key = tuple(missing)
        if key not in _WARNED:
            _WARNED.add(key)
            warnings.warn(f'SynthFace photo bank: skipped {len(missing)} photo(s) whose package or file is '
                          f'missing: {", ".join(missing)}')
    if not images:
        raise RuntimeError('SynthFace photo bank: none of the photos ' + ', '.join(names) + ' is available; '
                           'install scikit-image (and scikit-learn for china/flower), or render procedural '
                           'backgrounds instead (features photo_background=False, photo_occluders=False)')
    bank = PhotoBank(got_names, images, sources)
    _BANKS[names] = bank
    return bank


def get_photo_bank() -> PhotoBank:
    """The default bank (every allow-listed photo that is installed), loaded once per process."""
    return load_photo_bank(None)


# ------------------------------------------------------------------------------------------------ sampling
_LUMA = np.array([0.114, 0.587, 0.299], np.float32)      # BGR


@dataclass(frozen=True)
class CropParams:
    """Ranges of one kind of crop (background or texture)."""
    zoom: Tuple[float, float]       # output pixels per photo pixel (log-uniform)
    rot90_prob: float = 0.2         # a 90/180/270 degree turn
    small_rot_prob: float = 0.5     # else a small rotation in +-small_rot degrees
    small_rot: float = 12.0
    hflip_prob: float = 0.5
    vflip_prob: float = 0.0
    gray_prob: float = 0.1          # colour photo turned gray
    tint_prob: float = 0.6          # gray photo given a colour
    brightness: Tuple[float, float] = (0.65, 1.25)
    contrast: Tuple[float, float] = (0.7, 1.25)
    saturation: Tuple[float, float] = (0.5, 1.4)
    channel_gain: float = 0.12      # per-channel gain in 1 +- channel_gain
    tint: float = 0.25              # gray photos: per-channel gain in 1 +- tint


BACKGROUND = CropParams(zoom=(0.3, 2.0))
TEXTURE = CropParams(zoom=(0.8, 3.0), rot90_prob=0.3, vflip_prob=0.3, small_rot=30.0, tint_prob=0.8,
                     brightness=(0.5, 1.2))


def _colour_matrix(u: np.ndarray, gray_src: bool, p: CropParams) -> Optional[np.ndarray]:
    """3x4 BGR colour transform from 7 uniforms (gray/tint, brightness, contrast, saturation, 3 gains)."""
    b = p.brightness[0] + u[1] * (p.brightness[1] - p.brightness[0])
    c = p.contrast[0] + u[2] * (p.contrast[1] - p.contrast[0])
    if gray_src:
        s = 1.0
        spread = p.tint if u[0] < p.tint_prob else 0.0
    else:
        s = 0.0 if u[0] < p.gray_prob else p.saturation[0] + u[3] * (p.saturation[1] - p.saturation[0])
        spread = p.channel_gain
    gains = 1.0 + spread * (2 * u[4:7] - 1)
    sat = s * np.eye(3, dtype=np.float32) + (1 - s) * np.tile(_LUMA, (3, 1))
    m = np.empty((3, 4), np.float32)
    m[:, :3] = (b * c) * gains[:, None].astype(np.float32) * sat
    m[:, 3] = b * 128.0 * (1 - c)
    return m


def _sample_crop(rng: np.random.Generator, h: int, w: int, bank: PhotoBank, cdf: np.ndarray,
                 p: CropParams, return_info: bool = False):
    if h <= 0 or w <= 0:
        raise ValueError(f'crop size must be positive, got {h}x{w}')
    u = rng.random(16)
    k = min(int(np.searchsorted(cdf, u[0], side='right')), len(bank) - 1)
    levels = bank.pyramids[k]
    H, W = levels[0].shape[:2]
    # rotation: a 90-degree turn, or a small one, or none
    if u[1] < p.rot90_prob:
        angle = 90.0 * (1 + int(u[2] * 3 - 1e-9))
    elif u[1] < p.rot90_prob + p.small_rot_prob * (1 - p.rot90_prob):
        angle = p.small_rot * (2 * u[2] - 1)
    else:
        angle = 0.0
    t = np.radians(angle)
    cs, sn = np.cos(t), np.sin(t)
    fx = -1.0 if u[3] < p.hflip_prob else 1.0
    fy = -1.0 if u[4] < p.vflip_prob else 1.0
    # zoom: log-uniform, raised where the photo is too small for the rotated crop
    ex1 = abs(cs) * w / 2 + abs(sn) * h / 2          # half-extent in photo pixels at zoom 1
    ey1 = abs(sn) * w / 2 + abs(cs) * h / 2
    zmin = max(ex1 / max((W - 1) / 2, 1), ey1 / max((H - 1) / 2, 1))
    lo, hi = max(p.zoom[0], zmin), max(p.zoom[1], zmin)
    zoom = float(np.exp(np.log(lo) + u[5] * (np.log(hi) - np.log(lo))))
    cx = ex1 / zoom + u[6] * max(W - 1 - 2 * ex1 / zoom, 0.0)
    cy = ey1 / zoom + u[7] * max(H - 1 - 2 * ey1 / zoom, 0.0)
    # pyramid level: effective zoom in (0.5, 1] when zooming out
    lvl = 0
    while lvl + 1 < len(levels) and zoom * 2 ** (lvl + 1) <= 1.0:
        lvl += 1
    s = 2.0 ** -lvl
    # destination -> source map: src = c + R F (dst - dst_centre) / zoom, at level lvl
    a = np.array([[cs * fx, -sn * fy], [sn * fx, cs * fy]]) * (s / zoom)
    oc = np.array([(w - 1) / 2, (h - 1) / 2])
    tvec = np.array([cx, cy]) * s - a @ oc
    m = np.hstack([a, tvec[:, None]]).astype(np.float64)
    out = cv2.warpAffine(levels[lvl], m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT_101)
    gray_src = bank.gray[k]
    cm = _colour_matrix(u[8:15], gray_src, p)
    out = cv2.transform(out, cm)
    if return_info:
        return out, dict(photo=bank.names[k], angle=round(angle, 2), zoom=round(zoom, 4), hflip=fx < 0,
                         vflip=fy < 0, level=lvl, centre=(float(cx), float(cy)))
    return out


def sample_background(rng: np.random.Generator, h: int, w: int, bank: Optional[PhotoBank] = None,
                      params: CropParams = BACKGROUND, return_info: bool = False):
    """A ``(h, w, 3)`` uint8 BGR background: a random crop of a photo of ``bank`` (default
    :func:`get_photo_bank`), zoomed by 0.3-2x (output pixels per photo pixel; more where the photo is too small),
    flipped, turned by 90 degrees or a few degrees, colour-jittered or made gray (gray photos tinted).

    ``return_info=True`` returns ``(img, info)`` with the photo name and the transform drawn.
    """
    bank = bank if bank is not None else get_photo_bank()
    return _sample_crop(rng, int(h), int(w), bank, bank.bg_cdf, params, return_info)


def sample_texture(rng: np.random.Generator, h: int, w: int, bank: Optional[PhotoBank] = None,
                   params: CropParams = TEXTURE, return_info: bool = False):
    """A ``(h, w, 3)`` uint8 BGR occluder fill: like :func:`sample_background` but zoomed in more (0.8-3x),
    turned and flipped more freely, texture photos (brick, grass, gravel, text) drawn more often."""
    bank = bank if bank is not None else get_photo_bank()
    return _sample_crop(rng, int(h), int(w), bank, bank.tex_cdf, params, return_info)


__all__ = ['PHOTOS', 'EXCLUDED', 'FACE_PHOTOS', 'PhotoSource', 'PhotoBank', 'CropParams', 'BACKGROUND', 'TEXTURE',
           'load_photo_bank', 'get_photo_bank', 'sample_background', 'sample_texture']
