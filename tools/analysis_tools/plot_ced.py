# Copyright (c) mmfacealign contributors. All rights reserved.
"""Plot the cumulative error distribution (CED) of several evaluation runs in one PNG, as papers draw them.

    python tools/analysis_tools/plot_ced.py work_dirs/a/<ts>/face_alignment.ced.json \\
        work_dirs/b/<ts>/face_alignment.ced.json --labels "Baseline" "Ours" --out ced.png --max-error 0.1

Inputs are the files ``FaceAlignmentMetric`` writes per evaluation: ``*.ced.json`` (sorted per-image NMEs per
subset) or ``*.per_image.json`` (per-image NMEs and subset tags). ``--subset`` picks a subset (default
``full``: all images). Each curve is ``F(x) = share of images with NME <= x`` on ``[0, --max-error]``; the legend
gives ``label (AUC@t a.aaaa, FR@t f.ff%)`` with ``t = --threshold`` (default ``--max-error``), AUC computed
exactly as the metric does (``mean max(0, 1 - NME / t)``) and FR = share of images with NME > t.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmfacealign.evaluation.functional.ced import auc_ced, ced_curve, failure_rate  # noqa: E402


def load_errors(path: str, subset: str = 'full') -> np.ndarray:
    """Per-image NMEs of one subset from a ``*.ced.json`` or ``*.per_image.json`` file.

    Returns:
        np.ndarray: ``(N,)`` errors.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if 'curves' in data:
        curves = data['curves']
        if subset not in curves:
            raise ValueError(f'{path}: no subset {subset!r}; it has {sorted(curves)}')
        errors = curves[subset]['errors']
    elif 'images' in data:
        images = data['images']
        if subset != 'full':
            images = [im for im in images if subset in (im.get('subset') or [])]
            if not images:
                tags = sorted({t for im in data['images'] for t in (im.get('subset') or [])})
                raise ValueError(f'{path}: no image tagged {subset!r}; tags found: {tags}')
        errors = [im['nme'] for im in images]
    else:
        raise ValueError(f'{path}: not a FaceAlignmentMetric output (expected a "curves" or "images" key)')
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        raise ValueError(f'{path}: subset {subset!r} has no images')
    return errors


def _default_label(path: str) -> str:
    """``<work dir>/<timestamp>`` for the metric's default file names, else the file name's stem."""
    stem = osp.basename(path).split('.')[0]
    if not stem.startswith('face_alignment'):
        return stem
    log_dir = osp.dirname(osp.abspath(path))
    return f'{osp.basename(osp.dirname(log_dir))}/{osp.basename(log_dir)}'


def plot_ced(files: List[str],
             labels: Optional[List[str]],
             out: str,
             max_error: float = 0.1,
             threshold: Optional[float] = None,
             subset: str = 'full',
             title: Optional[str] = None,
             percent: bool = False) -> List[dict]:
    """Draw the CED curves of ``files`` into ``out`` (PNG).

    Returns:
        list of dict: per curve ``label``, ``num_images``, ``auc``, ``fr`` (fractions).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if labels is None:
        labels = [_default_label(f) for f in files]
    if len(labels) != len(files):
        raise ValueError(f'{len(files)} files but {len(labels)} labels')
    t = float(max_error if threshold is None else threshold)
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=150)
    stats = []
    for path, label in zip(files, labels):
        errors = load_errors(path, subset)
        x, y = ced_curve(errors, max_error, 2001)
        auc, fr = auc_ced(errors, t), failure_rate(errors, t)
        ax.step(x * scale, y, where='post', linewidth=1.6,
                label=f'{label} (AUC@{t:g} {auc:.4f}, FR@{t:g} {100 * fr:.2f}%)')
        stats.append(dict(label=label, num_images=int(errors.size), auc=auc, fr=fr))
    ax.set_xlim(0, max_error * scale)
    ax.set_ylim(0, 1)
    ax.set_xlabel('NME (%)' if percent else 'NME')
    ax.set_ylabel('Proportion of images')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='lower right', fontsize=8)
    ax.set_title(title if title is not None else ('CED' if subset == 'full' else f'CED ({subset})'))
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, format='png')
    plt.close(fig)
    return stats


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('files', nargs='+', help='*.ced.json or *.per_image.json files written by FaceAlignmentMetric')
    p.add_argument('--labels', nargs='+', help='one legend label per file (default: derived from the paths)')
    p.add_argument('--out', default='ced.png', help='output PNG (default ced.png)')
    p.add_argument('--max-error', type=float, default=0.1, help='right end of the x axis (default 0.1)')
    p.add_argument('--threshold', type=float, help='t of AUC@t and FR@t in the legend (default --max-error)')
    p.add_argument('--subset', default='full', help="subset to plot (default 'full': all images)")
    p.add_argument('--title', help='figure title')
    p.add_argument('--percent', action='store_true', help='x axis in percent (NME x 100)')
    args = p.parse_args(argv)
    try:
        stats = plot_ced(args.files, args.labels, args.out, args.max_error, args.threshold, args.subset, args.title,
                         args.percent)
    except (OSError, ValueError) as e:
        sys.exit(f'plot_ced: {e}')
    for s in stats:
        print(f'{s["label"]}: {s["num_images"]} images, AUC {s["auc"]:.4f}, FR {100 * s["fr"]:.2f}%')
    print(f'plot_ced: wrote {args.out}')


if __name__ == '__main__':
    main()
