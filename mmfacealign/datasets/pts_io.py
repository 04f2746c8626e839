# Copyright (c) mmfacealign contributors. All rights reserved.
"""Read iBUG ``.pts`` landmark files and turn image folders annotated with them into MMPose COCO-style json.

The ``.pts`` format (300W, 300VW frames, Helen/LFPW/AFW re-annotations, many custom sets)::

    version: 1
    n_points:  68
    {
    x0 y0
    ...
    }

Coordinate convention: iBUG's files are **1-based** (MATLAB): the centre of the top-left pixel is (1, 1).
MMPose and OpenCV put that pixel centre at (0, 0), so :func:`pts_folder_to_coco` subtracts 1 by default
(``one_based=True``); pass ``one_based=False`` for files already in 0-based pixel-centre coordinates.

Boxes: the landmark box, enlarged by ``margin`` (a share of its size on each side; 0 keeps the tight box that
MMPose's 300W/WFLW annotations use, whose ``GetBBoxCenterScale`` then pads by 1.25). ``center`` is the box
centre and ``scale`` its longer side / 200, as ``Face300WDataset`` expects.

Images: every format OpenCV's ``imread`` reads (``IMAGE_EXTS``, matched case-insensitively), since that is what
MMPose's ``LoadImage`` decodes with. Each image is decoded once here (with OpenCV) for its size, which also proves
that the loaders can read it. A ``.pts`` file without a readable image (no image of the same stem in one of
those formats, or an image that does not decode) is left out of the json and named in a warning
(``strict=True``: an error naming them all instead), so a partly broken folder still converts and nothing is
dropped silently.
"""
import os
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpose.structures.bbox import bbox_xyxy2xywh

from ..utils.boxes import landmark_box

#: Extensions of the image formats OpenCV's imread decodes (MMPose's LoadImage reads images with it).
IMAGE_EXTS = ('.jpg', '.jpeg', '.jpe', '.jp2', '.png', '.bmp', '.dib', '.webp', '.avif', '.ppm', '.pgm', '.pbm',
              '.pnm', '.pxm', '.pfm', '.tif', '.tiff', '.sr', '.ras', '.exr', '.hdr', '.pic')
#: How many files a warning or error lists before "and N more".
MAX_LISTED = 20


def read_pts(path: str) -> np.ndarray:
    """Landmarks ``(N, 2)`` float64 of one ``.pts`` file, exactly as written (no shift)."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = [ln.strip() for ln in f]
    try:
        n_line = next(i for i, ln in enumerate(lines) if ln.lower().startswith('n_points'))
        n = int(lines[n_line].split(':', 1)[1])
        start = lines.index('{', n_line) + 1
        end = lines.index('}', start)
    except (StopIteration, ValueError, IndexError) as e:
        raise ValueError(f'{path}: not an iBUG .pts file (expected "n_points: N" and a {{ ... }} block)') from e
    pts = []
    for lineno, ln in enumerate(lines[start:end], start=start + 1):
        parts = ln.split()
        if len(parts) != 2:
            raise ValueError(f'{path}, line {lineno}: expected "x y", got {ln!r}')
        try:
            pts.append([float(parts[0]), float(parts[1])])
        except ValueError as e:
            raise ValueError(f'{path}, line {lineno}: not numbers: {ln!r}') from e
    if len(pts) != n:
        raise ValueError(f'{path}: n_points says {n} but {len(pts)} points are listed')
    return np.asarray(pts, dtype=np.float64)


def scan_pts_folder(img_root: str) -> Tuple[List[str], List[str]]:
    """Pair images with ``.pts`` files under ``img_root`` (recursively).

    Returns:
        tuple: ``(images, orphans)``, both sorted and relative to ``img_root``: the images (any of ``IMAGE_EXTS``)
        with a ``.pts`` file of the same stem beside them, and the ``.pts`` files with no such image.
    """
    found, orphans = [], []
    for dirpath, _, files in os.walk(img_root):
        names = set(files)
        paired = set()
        for f in files:
            stem, ext = osp.splitext(f)
            if ext.lower() in IMAGE_EXTS and stem + '.pts' in names:
                found.append(osp.relpath(osp.join(dirpath, f), img_root))
                paired.add(stem + '.pts')
        orphans += [osp.relpath(osp.join(dirpath, f), img_root) for f in files
                    if f.endswith('.pts') and f not in paired]
    return sorted(found), sorted(orphans)


def _listing(paths: Sequence[str]) -> str:
    shown = ', '.join(paths[:MAX_LISTED])
    return shown + (f' and {len(paths) - MAX_LISTED} more' if len(paths) > MAX_LISTED else '')


def read_image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of an image as OpenCV (MMPose's loader) decodes it; None if it cannot be read."""
    import cv2
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if img is None else (int(img.shape[1]), int(img.shape[0]))


def pts_folder_to_coco(img_root: str, images: Optional[Sequence[str]] = None, margin: float = 0.0,
                       one_based: bool = True, num_keypoints: Optional[int] = None, strict: bool = False) -> dict:
    """Build the COCO-style dict (``images``, ``annotations``, ``categories``) for annotated images.

    Args:
        img_root: folder that ``file_name`` entries are relative to (the config's ``data_prefix.img``).
        images: relative image paths; default: every image under ``img_root`` with a ``.pts`` beside it.
        margin: box enlargement, see the module docstring.
        one_based: subtract 1 from the ``.pts`` coordinates (iBUG convention).
        num_keypoints: require this many points per file (error naming the file otherwise).
        strict: raise ``FileNotFoundError`` naming every ``.pts`` file without a readable image, instead of
            leaving them out with a ``UserWarning`` that names them.

    Raises:
        FileNotFoundError: no annotated image is found or readable; with ``strict``, any ``.pts`` file without
            a readable image.
        ValueError: a ``.pts`` file is malformed or has the wrong number of points (naming the file).
    """
    orphans: List[str] = []
    if images is None:
        images, orphans = scan_pts_folder(img_root)
    images = list(images)
    if not images and not orphans:
        raise FileNotFoundError(f'{img_root}: no images with a .pts file of the same name found')
    unreadable = []
    coco = dict(images=[], annotations=[],
                categories=[dict(supercategory='person', id=1, name='face', keypoints=[], skeleton=[])])
    for rel in images:
        img_path = osp.join(img_root, rel)
        pts_path = osp.splitext(img_path)[0] + '.pts'
        pts = read_pts(pts_path) - (1.0 if one_based else 0.0)
        if num_keypoints is not None and len(pts) != num_keypoints:
            raise ValueError(f'{pts_path}: {len(pts)} points, expected {num_keypoints}')
        size = read_image_size(img_path)
        if size is None:
            unreadable.append(rel)
            continue
        width, height = size
        i = len(coco['images'])
        box = bbox_xyxy2xywh(landmark_box(pts, margin)[None])[0]                    # COCO's x, y, w, h
        kpts = np.concatenate([pts, np.full((len(pts), 1), 2.0)], 1)
        coco['images'].append(dict(id=i, file_name=rel.replace(os.sep, '/'), height=height, width=width))
        coco['annotations'].append(dict(
            id=i, image_id=i, category_id=1, iscrowd=0, num_keypoints=len(pts),
            keypoints=[round(float(v), 3) for v in kpts.reshape(-1)],
            bbox=[round(float(v), 3) for v in box], area=round(float(box[2] * box[3]), 3),
            center=[round(float(box[0] + box[2] / 2), 3), round(float(box[1] + box[3] / 2), 3)],
            scale=round(float(max(box[2], box[3])) / 200, 6)))
    problems = []
    if orphans:
        problems.append(f'{len(orphans)} .pts file(s) have no image of the same name in a format the loaders read '
                        f'({", ".join(IMAGE_EXTS)}): {_listing(orphans)}')
    if unreadable:
        problems.append(f'{len(unreadable)} image(s) cannot be read (missing, or not decodable by OpenCV): '
                        f'{_listing(unreadable)}')
    if problems and (strict or not coco['images']):
        raise FileNotFoundError(f'{img_root}: ' + '; '.join(problems))
    if problems:
        warnings.warn(f'{img_root}: left out of the json: ' + '; '.join(problems), UserWarning, stacklevel=2)
    return coco
