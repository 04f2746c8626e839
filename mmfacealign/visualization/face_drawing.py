# Copyright (c) mmfacealign contributors. All rights reserved.
"""Drawing one face's landmarks so that a person can read them: contours, face-sized markers, occlusion marks.

* **Contours.** Landmarks are joined along the facial contours. For the iBUG-68 and WFLW-98 layouts the contours
  are the named groups of :mod:`mmfacealign.models.utils.landmark_groups` (the one place that lists them): jaw,
  brows, nose bridge and nose base as open chains; eyes and outer / inner lips (and WFLW's brows, which go round
  the brow) as closed loops. A dataset whose MMPose metainfo has a skeleton (``skeleton_links`` parsed from
  ``skeleton_info``) is drawn with that skeleton instead; MMPose's own face metainfo files (300W, WFLW, COFW,
  AFLW, ...) have an empty ``skeleton_info``, so COFW-29, AFLW-19 and other layouts without known contours are
  drawn as points only.
* **Size.** The point radius and the line width follow the face size (the diagonal of the landmarks' box), within
  bounds, so a 60-pixel and a 600-pixel face both read well: radius ``clip(round(0.008 * diagonal), 1, 10)``, line
  width ``clip(round(0.4 * radius), 1, 5)``.
* **Occlusion.** Where a prediction (or the ground truth) says which landmarks are occluded (probabilities or
  booleans ``(K,)``), those above ``occluded_thr`` are drawn as hollow rings in ``occluded_color`` instead of
  filled discs; without occlusion flags every landmark is a filled disc.

Colours are tuples in the channel order of the image drawn on (the visualiser draws on RGB images).
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from mmfacealign.models.utils.landmark_groups import IBUG68_GROUPS, WFLW98_GROUPS

# which groups of landmark_groups.py are contours, and which of them close on themselves; group names only (the
# indices live in landmark_groups.py). COFW's groups are not in contour order, so COFW has no contours here.
_CONTOURS = {
    68: (IBUG68_GROUPS, ('jaw', 'right_brow', 'left_brow', 'nose_bridge', 'nose_base'),
         ('right_eye', 'left_eye', 'outer_lips', 'inner_lips')),
    98: (WFLW98_GROUPS, ('jaw', 'nose_bridge', 'nose_base'),
         ('right_brow', 'left_brow', 'right_eye', 'left_eye', 'outer_lips', 'inner_lips')),
}

#: relative marker sizes and their bounds (pixels)
RADIUS_PER_DIAGONAL = 0.008
RADIUS_RANGE = (1, 10)
LINE_WIDTH_PER_RADIUS = 0.4
LINE_WIDTH_RANGE = (1, 5)

_SHIFT = 4                       # OpenCV's fixed-point drawing: 1/16 pixel positions
_ONE = 1 << _SHIFT

Links = List[Tuple[int, int]]


def contour_links(num_keypoints: int, dataset_meta: Optional[dict] = None) -> Links:
    """The pairs of landmark indices to join with a line for a layout of ``num_keypoints`` points.

    ``dataset_meta['skeleton_links']`` (MMPose's parsed ``skeleton_info``) is used when it is not empty and fits
    ``num_keypoints``; otherwise the contours of the iBUG-68 or WFLW-98 groups; otherwise none (points only).
    """
    skeleton = (dataset_meta or {}).get('skeleton_links') if isinstance(dataset_meta, dict) else None
    if skeleton is not None and len(skeleton) > 0:
        pairs = [(int(a), int(b)) for a, b in skeleton]
        if all(0 <= i < num_keypoints for pair in pairs for i in pair):
            return pairs
    if num_keypoints not in _CONTOURS:
        return []
    groups, open_chains, closed_loops = _CONTOURS[num_keypoints]
    links = []
    for name in open_chains + closed_loops:
        idx = groups[name]
        links += list(zip(idx[:-1], idx[1:]))
        if name in closed_loops and len(idx) > 2:
            links.append((idx[-1], idx[0]))
    return links


def face_diagonal(keypoints: np.ndarray) -> float:
    """Diagonal of the box of the finite landmarks (pixels; 0 with fewer than two)."""
    pts = np.asarray(keypoints, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 2:
        return 0.0
    return float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))


def marker_sizes(diagonal: float, radius: Optional[int] = None, line_width: Optional[int] = None) -> Tuple[int, int]:
    """``(radius, line_width)`` for a face whose landmark box has this ``diagonal``; given values are kept."""
    if radius is None:
        radius = int(np.clip(round(RADIUS_PER_DIAGONAL * diagonal), *RADIUS_RANGE))
    if line_width is None:
        line_width = int(np.clip(round(LINE_WIDTH_PER_RADIUS * radius), *LINE_WIDTH_RANGE))
    return int(radius), int(line_width)


def occluded_mask(occluded, num_keypoints: int, thr: float = 0.5) -> Optional[np.ndarray]:
    """Boolean ``(K,)``: the landmarks whose occlusion probability (or flag) is above ``thr``; None when
    ``occluded`` is None."""
    if occluded is None:
        return None
    occ = np.asarray(occluded, np.float64).reshape(-1)
    if occ.size != num_keypoints:
        raise ValueError(f'occlusion flags: {occ.size} values for {num_keypoints} landmarks')
    return np.nan_to_num(occ, nan=0.0) > thr


def _fixed(p) -> Tuple[int, int]:
    return int(round(float(p[0]) * _ONE)), int(round(float(p[1]) * _ONE))


def draw_links(img: np.ndarray, keypoints: np.ndarray, links: Sequence[Tuple[int, int]], color,
               line_width: int = 1, link_colors=None) -> np.ndarray:
    """Draw each link ``(i, j)`` as a line from landmark i to j on ``img`` (in place; uint8 ``(H, W, 3)``).
    Links with a non-finite end are skipped. ``link_colors`` (one per link) overrides ``color``."""
    import cv2
    pts = np.asarray(keypoints, np.float64).reshape(-1, 2)
    for n, (i, j) in enumerate(links):
        if not (np.isfinite(pts[i]).all() and np.isfinite(pts[j]).all()):
            continue
        c = color if link_colors is None else link_colors[n]
        cv2.line(img, _fixed(pts[i]), _fixed(pts[j]), tuple(int(v) for v in c), int(line_width), cv2.LINE_AA,
                 _SHIFT)
    return img


def draw_points(img: np.ndarray, keypoints: np.ndarray, color, radius: int, occluded: Optional[np.ndarray] = None,
                occluded_color=(0, 255, 255), line_width: int = 1) -> np.ndarray:
    """Landmarks as filled discs of ``radius`` (in place); the ``occluded`` ones (boolean ``(K,)``) as hollow rings
    of radius ``radius + 1`` and width ``line_width`` in ``occluded_color``. Non-finite points are skipped."""
    import cv2
    pts = np.asarray(keypoints, np.float64).reshape(-1, 2)
    color = tuple(int(v) for v in color)
    occluded_color = tuple(int(v) for v in occluded_color)
    for k, p in enumerate(pts):
        if not np.isfinite(p).all():
            continue
        if occluded is not None and occluded[k]:
            cv2.circle(img, _fixed(p), (radius + 1) * _ONE, occluded_color, max(1, int(line_width)), cv2.LINE_AA,
                       _SHIFT)
        else:
            cv2.circle(img, _fixed(p), radius * _ONE, color, -1, cv2.LINE_AA, _SHIFT)
    return img


def draw_face_landmarks(img: np.ndarray, keypoints: np.ndarray, color=(255, 0, 0), *,
                        links: Union[str, None, Sequence[Tuple[int, int]]] = 'auto',
                        dataset_meta: Optional[dict] = None, occluded=None, occluded_thr: float = 0.5,
                        occluded_color=(0, 255, 255), radius: Optional[int] = None,
                        line_width: Optional[int] = None, diagonal: Optional[float] = None,
                        link_color=None) -> np.ndarray:
    """One face's landmarks ``(K, 2)`` drawn on a copy of ``img`` (uint8 ``(H, W, 3)``): contours, then points.

    Args:
        color: colour of the points (and of the contours unless ``link_color``), in the image's channel order.
        links: ``'auto'`` (:func:`contour_links` of ``K`` and ``dataset_meta``), None or ``[]`` (points only), or
            the ``(i, j)`` pairs to join.
        occluded: occlusion probabilities or booleans ``(K,)``; those above ``occluded_thr`` are drawn as hollow
            rings in ``occluded_color``. None: every point filled.
        radius, line_width: fixed sizes in pixels; None scales them with ``diagonal`` (by default the diagonal of
            the landmarks' box, see :func:`marker_sizes`).
    """
    out = np.ascontiguousarray(img, dtype=np.uint8).copy()
    pts = np.asarray(keypoints, np.float64).reshape(-1, 2)
    if diagonal is None:
        diagonal = face_diagonal(pts)
    radius, line_width = marker_sizes(diagonal, radius, line_width)
    if isinstance(links, str):
        if links != 'auto':
            raise ValueError(f"links: 'auto', None or a list of index pairs, not {links!r}")
        links = contour_links(len(pts), dataset_meta)
    if links:
        draw_links(out, pts, links, color if link_color is None else link_color, line_width)
    draw_points(out, pts, color, radius, occluded_mask(occluded, len(pts), occluded_thr), occluded_color,
                line_width)
    return out


__all__ = ['contour_links', 'face_diagonal', 'marker_sizes', 'occluded_mask', 'draw_links', 'draw_points',
           'draw_face_landmarks']
