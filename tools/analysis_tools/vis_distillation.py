# Copyright (c) mmfacealign contributors. All rights reserved.
"""Draw ODN's distillation map on test faces (the paper's Fig. 6) and measure whether it falls on the occluders.

    python tools/analysis_tools/vis_distillation.py CONFIG CHECKPOINT --out dm.png [--num 8]
        [--ann-file annotations/synthface_test_occluded.json] [--data-root data/synthface/] [--num-stats N]
        [--out-json dm.json] [--batch-size 16] [--tile 160] [--device cpu] [--cfg-options ...]

The model (an ODN config: ``OcclusionAdaptiveNeck`` with ``use_dm=True``) runs up to its neck on the test
pipeline's input crop of each face; a forward hook on ``model.neck.dm`` captures the distillation logits P and
the clean features ``pathway_c(x) * sigmoid(P)``. The model code is not touched.

PNG (``--out``): one row per face (the first ``--num`` faces of the annotation file), three columns: (a) the input
crop with the recorded occluder polygons (white) and the face box (dashed yellow), (b) sigmoid(P) upsampled to
the crop (bilinear) over the crop, on a fixed 0-1 colour scale, (c) the distilled features, the channel mean of
|clean| normalised to 0-1 per face and upsampled the same way.

Statistics (printed, and written to ``--out-json``, default the PNG's path with ``.json``): for every face of the
file (or the first ``--num-stats``) the occluder polygons, recorded in original-image pixels, are mapped into the
crop with the affine transform TopdownAffine used (``get_warp_matrix`` of the sample's ``input_center``,
``input_scale``, ``input_size``, rotation 0) and rasterised (``cv2.fillPoly``); so is the face box (the
annotation's ``bbox``). The crop splits into three regions: inside the occluders, the face box outside the
occluders, and the background (outside both). The mean of the upsampled sigmoid(P) over each region is taken
per face, then averaged over faces; ``frac_inside_below_face`` is the share of faces whose inside-mean is below
their face-box mean (ODN's claim: the map is small on occluders). Faces without an ``occluders`` field, with an
empty list, whose occluders fall outside the crop, or whose occluders cover the whole face box are skipped and
counted per reason; ``num_faces = num_used + sum(skipped)``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.utils.io import dump_json_atomic  # noqa: E402

SKIP_REASONS = ('no_occluders_field', 'no_occluders', 'occluders_outside_crop', 'occluders_cover_face_box')
COLUMN_TITLES = ('(a) input crop, occluders', '(b) sigmoid(P), 0-1 scale', '(c) distilled features')
_SHIFT = 4   # fractional bits of the polygon vertices given to cv2.fillPoly


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument('--num', type=int, default=8, help='number of faces drawn (rows of the PNG; 0: no PNG)')
    p.add_argument('--num-stats', type=int, help='number of faces measured (default: all of the file)')
    p.add_argument('--ann-file', default='annotations/synthface_test_occluded.json',
                   help='annotation file (relative to the dataset data_root, or absolute)')
    p.add_argument('--data-root', help="the dataset's data_root (default: the config's)")
    p.add_argument('--out-json', help='statistics file (default: --out with the extension .json)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--tile', type=int, default=160, help='side of each panel in pixels')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------------- geometry
def warp_matrix(center: Sequence[float], scale: Sequence[float], input_size: Sequence[int],
                use_udp: bool = False) -> np.ndarray:
    """The 2x3 matrix TopdownAffine warps the image with: original pixels -> crop pixels, rotation 0.

    ``center``, ``scale`` (x, y; pixels) and ``input_size`` (w, h) as in the packed sample's ``input_center``,
    ``input_scale``, ``input_size``.
    """
    from mmpose.structures.bbox.transforms import get_udp_warp_matrix, get_warp_matrix
    center = np.asarray(center, dtype=np.float32).reshape(2)
    scale = np.asarray(scale, dtype=np.float32).reshape(2)
    w, h = (int(v) for v in input_size)
    if use_udp:
        return get_udp_warp_matrix(center, scale, 0., output_size=(w, h))
    return get_warp_matrix(center, scale, 0., output_size=(w, h))


def warp_points(points, mat: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 2x3 affine matrix."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ np.asarray(mat, dtype=np.float64)[:, :2].T + np.asarray(mat, dtype=np.float64)[:, 2]


def polygons_mask(polygons: Sequence, mat: np.ndarray, input_size: Sequence[int]) -> np.ndarray:
    """Rasterise polygons (each a list of [x, y] in original-image pixels) into a (h, w) bool mask of the crop.

    Pixel (row i, column j) is the crop point (j, i), as in ``cv2.warpAffine``. ``cv2.fillPoly`` takes the mapped
    vertices with sub-pixel bits but rasterises as if they were rounded to the nearest pixel, boundary pixels
    included: a crop square with corners (40.3, 40.3), (59.7, 59.7) fills rows and columns 40..60, one with
    corners (40.7, 40.7), (59.3, 59.3) fills 41..59 (accurate to half a pixel).
    """
    w, h = (int(v) for v in input_size)
    mask = np.zeros((h, w), dtype=np.uint8)
    pts = [np.round(warp_points(p, mat) * (1 << _SHIFT)).astype(np.int32)
           for p in polygons if len(p) >= 3]
    if pts:
        cv2.fillPoly(mask, pts, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask.astype(bool)


def occluder_polygons(occluders: Sequence[dict]) -> List:
    """All polygons of a SynthFace annotation's ``occluders`` list."""
    return [poly for occ in occluders for poly in occ.get('polygons', [])]


def box_polygon(bbox_xyxy: Sequence[float]) -> List[List[float]]:
    x0, y0, x1, y1 = (float(v) for v in bbox_xyxy)
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def region_means(weight: np.ndarray, occ: np.ndarray, box: np.ndarray) -> Dict[str, Optional[float]]:
    """Mean of ``weight`` (h, w) inside the occluders, in the face box outside them, and outside both.

    The three regions partition the crop; a mean over an empty region is None.
    """
    regions = dict(inside=occ, face=box & ~occ, background=~box & ~occ)
    return {k: (float(weight[m].mean()) if m.any() else None) for k, m in regions.items()}


def face_box(ann: Optional[dict], dataset_bbox_xyxy: Sequence[float]) -> tuple:
    """The face box (x0, y0, x1, y1) in original pixels: the annotation's ``bbox`` (COCO xywh) when it has one,
    else the dataset's box."""
    if ann and ann.get('bbox') is not None:
        x, y, bw, bh = (float(v) for v in ann['bbox'])
        return x, y, x + bw, y + bh
    return tuple(float(v) for v in dataset_bbox_xyxy)


def face_statistics(weight: np.ndarray, ann: Optional[dict], mat: np.ndarray, input_size: Sequence[int],
                    bbox_xyxy: Sequence[float]) -> dict:
    """Region means of one face, or the reason it is skipped (``skipped``, one of :data:`SKIP_REASONS`).

    ``weight`` (h, w) is sigmoid(P) at the crop's size, ``ann`` the raw annotation (``occluders``), ``mat`` the
    crop's warp matrix, ``bbox_xyxy`` the face box in original pixels (:func:`face_box`).
    """
    if ann is None or 'occluders' not in ann:
        return dict(skipped='no_occluders_field')
    polygons = occluder_polygons(ann['occluders'])
    if not polygons:
        return dict(skipped='no_occluders')
    occ = polygons_mask(polygons, mat, input_size)
    if not occ.any():
        return dict(skipped='occluders_outside_crop')
    box = polygons_mask([box_polygon(bbox_xyxy)], mat, input_size)
    means = region_means(weight, occ, box)
    if means['face'] is None:
        return dict(skipped='occluders_cover_face_box')
    return dict(skipped=None, occluded_fraction_of_box=float((occ & box).sum() / max(1, box.sum())), **means)


def aggregate(per_face: List[dict]) -> dict:
    """Means over the faces used, the share with inside < face box, and the counts (see the module docstring)."""
    used = [f for f in per_face if f['skipped'] is None]
    skipped = {r: sum(f['skipped'] == r for f in per_face) for r in SKIP_REASONS}

    def mean(key):
        vals = [f[key] for f in used if f[key] is not None]
        return (float(np.mean(vals)) if vals else None), len(vals)

    inside, _ = mean('inside')
    face, _ = mean('face')
    background, num_background = mean('background')
    below = sum(f['inside'] < f['face'] for f in used)
    return dict(
        num_faces=len(per_face), num_used=len(used), skipped=skipped,
        mean_p_inside_occluders=inside, mean_p_face_box_outside_occluders=face, mean_p_background=background,
        num_background=num_background,
        mean_face_minus_inside=(float(np.mean([f['face'] - f['inside'] for f in used])) if used else None),
        num_inside_below_face=below, frac_inside_below_face=(below / len(used) if used else None))


# ------------------------------------------------------------------------------------------------------- model
def distillation_module(model, config: str):
    """``model.neck.dm``, or SystemExit naming the config when the model has no distillation module."""
    neck = getattr(model, 'neck', None)
    if neck is None or not getattr(neck, 'use_dm', False) or getattr(neck, 'dm', None) is None:
        raise SystemExit(f'vis_distillation: the model of {config} has no distillation module (its neck '
                         f'{type(neck).__name__} needs use_dm=True and a `dm`, as OcclusionAdaptiveNeck in the ODN '
                         f'configs)')
    return neck.dm


def pipeline_settings(pipeline: Sequence[dict]) -> bool:
    """Whether the pipeline's TopdownAffine uses UDP; SystemExit when it has none or has random transforms."""
    types = [t.get('type') for t in pipeline]
    random = [t for t in types if isinstance(t, str) and t.startswith('Random')]
    if random:
        raise SystemExit(f'vis_distillation: the test pipeline has random transforms {random}; the crop would not '
                         f'be the deterministic one this tool maps the occluders into')
    affine = [t for t in pipeline if t.get('type') == 'TopdownAffine']
    if not affine:
        raise SystemExit(f'vis_distillation: the test pipeline has no TopdownAffine (types: {types})')
    return bool(affine[0].get('use_udp', False))


def run_model(model, dm, batch: List[dict]):
    """Forward a batch of packed samples up to the neck; sigmoid(P) and mean|clean| upsampled to the crop.

    Returns ``(weights (N, h, w), features (N, h, w) in 0-1 per face, map size (H, W))``.
    """
    import torch
    import torch.nn.functional as F
    captured = []
    handle = dm.register_forward_hook(lambda module, args, out: captured.append(out))
    try:
        data = model.data_preprocessor(dict(inputs=[b['inputs'] for b in batch],
                                            data_samples=[b['data_samples'] for b in batch]), False)
        with torch.no_grad():
            model.extract_feat(data['inputs'])
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError('vis_distillation: the distillation module was not called by extract_feat')
    clean, logits = captured[-1]
    size = tuple(data['inputs'].shape[-2:])
    up = lambda t: F.interpolate(t.float(), size=size, mode='bilinear', align_corners=False)[:, 0]
    weights = up(torch.sigmoid(logits)).cpu().numpy()
    feats = up(clean.abs().mean(1, keepdim=True)).cpu().numpy()
    lo, hi = feats.min(axis=(1, 2), keepdims=True), feats.max(axis=(1, 2), keepdims=True)
    feats = (feats - lo) / np.maximum(hi - lo, 1e-12)
    return weights, feats, tuple(logits.shape[-2:])


# -------------------------------------------------------------------------------------------------------- plot
def draw_grid(rows: List[dict], out: str, tile: int = 160, header: int = 24, dpi: int = 100) -> tuple:
    """One row per face, the three columns of :data:`COLUMN_TITLES`; the PNG is exactly
    ``(len(rows) * tile + header) x (3 * tile)`` pixels. Returns that (height, width)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    cols = len(COLUMN_TITLES)
    width, height = cols * tile, len(rows) * tile + header
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    fs = max(5., tile / 24)
    for c, title in enumerate(COLUMN_TITLES):
        fig.text((c + 0.5) / cols, 1 - header / 2 / height, title, ha='center', va='center', fontsize=fs)
    for r, row in enumerate(rows):
        crop, h, w = row['crop'], row['crop'].shape[0], row['crop'].shape[1]
        for c in range(cols):
            ax = fig.add_axes([c / cols, 1 - (header + (r + 1) * tile) / height, tile / width, tile / height])
            ax.set_axis_off()
            if c == 0:
                ax.imshow(crop)
            elif c == 1:
                ax.imshow(crop)
                ax.imshow(row['weight'], cmap='jet', vmin=0., vmax=1., alpha=0.55)
            else:
                ax.imshow(row['feature'], cmap='magma', vmin=0., vmax=1.)
            for poly in row['polygons']:
                ax.add_patch(Polygon(poly, closed=True, fill=False, edgecolor='white', linewidth=1.))
            if c == 0 and row['box'] is not None:
                ax.add_patch(Polygon(row['box'], closed=True, fill=False, edgecolor='yellow', linewidth=0.8,
                                     linestyle='--'))
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            label = row['labels'][c]
            if label:
                ax.text(0.02, 0.02, label, transform=ax.transAxes, fontsize=fs * 0.85, color='white',
                        va='bottom', ha='left', bbox=dict(facecolor='black', alpha=0.5, pad=1, linewidth=0))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return height, width


def _fmt(v):
    return '-' if v is None else f'{v:.3f}'


def format_table(summary: dict) -> str:
    s = summary
    (mh, mw), (iw, ih) = s['map_size'] or ('?', '?'), s['input_size'] or ('?', '?')
    lines = [f'sigmoid(P) of {s["num_used"]} / {s["num_faces"]} faces of {s["ann_file"]} '
             f'(map {mh}x{mw}, bilinear to the {iw}x{ih} crop)',
             f'  {"region":<34}{"mean sigmoid(P)":>16}{"faces":>8}',
             f'  {"inside the occluders":<34}{_fmt(s["mean_p_inside_occluders"]):>16}{s["num_used"]:>8}',
             f'  {"face box, outside the occluders":<34}{_fmt(s["mean_p_face_box_outside_occluders"]):>16}'
             f'{s["num_used"]:>8}',
             f'  {"background (outside the box)":<34}{_fmt(s["mean_p_background"]):>16}{s["num_background"]:>8}',
             f'  faces with inside < face box: {s["num_inside_below_face"]} / {s["num_used"]}'
             + (f' ({100 * s["frac_inside_below_face"]:.1f}%)' if s['num_used'] else ''),
             '  skipped: ' + ', '.join(f'{k} {v}' for k, v in s['skipped'].items())]
    return '\n'.join(lines)


# -------------------------------------------------------------------------------------------------------- main
def build_dataset(cfg, ann_file: Optional[str], data_root: Optional[str]):
    from mmpose.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset.copy()
    if ds_cfg.get('type') == 'ConcatDataset':   # e.g. SynthFace's three test splits: their first one's settings
        ds_cfg = ds_cfg.datasets[0].copy()
    if ann_file:
        ds_cfg.ann_file = ann_file
    if data_root:
        ds_cfg.data_root = data_root
    use_udp = pipeline_settings(ds_cfg.pipeline)
    return DATASETS.build(ds_cfg), use_udp


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from mmfacealign.apis import init_model

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_model(cfg, args.checkpoint, device=args.device)
    dm = distillation_module(model, args.config)
    dataset, use_udp = build_dataset(cfg, args.ann_file, args.data_root)
    with open(dataset.ann_file, encoding='utf-8') as f:
        anns = {a['id']: a for a in json.load(f).get('annotations', [])}

    n_total = len(dataset)
    n_stats = n_total if args.num_stats is None else max(0, min(args.num_stats, n_total))
    n_draw = max(0, min(args.num, n_total))
    per_face, rows, map_size, input_size = [], [], None, None
    for start in range(0, max(n_stats, n_draw), args.batch_size):
        idx = list(range(start, min(start + args.batch_size, max(n_stats, n_draw))))
        batch = [dataset[i] for i in idx]
        weights, feats, map_size = run_model(model, dm, batch)
        for i, b, weight, feat in zip(idx, batch, weights, feats):
            info, meta = dataset.get_data_info(i), b['data_samples'].metainfo
            missing = [k for k in ('input_center', 'input_scale', 'input_size') if k not in meta]
            if missing:
                raise SystemExit(f'vis_distillation: the packed samples lack {missing}; add them to '
                                 f'PackPoseInputs(meta_keys=...) of the test pipeline')
            input_size = tuple(int(v) for v in meta['input_size'])
            mat = warp_matrix(meta['input_center'], meta['input_scale'], input_size, use_udp)
            ann = anns.get(info['id'])
            box = face_box(ann, info['bbox'][0])
            stats = face_statistics(weight, ann, mat, input_size, box)
            if i < n_stats:
                per_face.append(dict(id=info['id'], img_path=info['img_path'], **stats))
            if i < n_draw:
                polygons = occluder_polygons(ann.get('occluders') or []) if ann else []
                crop = b['inputs'].permute(1, 2, 0).cpu().numpy()
                crop = crop[..., ::-1] if crop.shape[-1] == 3 else crop[..., 0]   # LoadImage gives BGR
                numbers = (f'in {_fmt(stats.get("inside"))} face {_fmt(stats.get("face"))} '
                           f'bg {_fmt(stats.get("background"))}' if stats['skipped'] is None else stats['skipped'])
                rows.append(dict(crop=crop, weight=weight, feature=feat,
                                 polygons=[warp_points(p, mat) for p in polygons if len(p) >= 3],
                                 box=warp_points(box_polygon(box), mat),
                                 labels=(f'id {info["id"]}', numbers, '')))

    summary = dict(config=args.config, checkpoint=args.checkpoint, ann_file=dataset.ann_file,
                   map_size=list(map_size) if map_size else None,
                   input_size=list(input_size) if input_size else None, **aggregate(per_face))
    if rows:
        height, width = draw_grid(rows, args.out, tile=args.tile)
        summary['png'] = dict(path=args.out, rows=len(rows), cols=len(COLUMN_TITLES), height=height, width=width)
        print(f'wrote {len(rows)} faces to {args.out}')
    summary['per_face'] = per_face
    out_json = args.out_json or osp.splitext(args.out)[0] + '.json'
    dump_json_atomic(summary, out_json, indent=1)
    print(format_table(summary))
    if not summary['num_used']:
        print('warning: no face with occluders inside the crop; is this an occluded split?')
    print(f'statistics written to {out_json}')
    return summary


if __name__ == '__main__':
    main()
