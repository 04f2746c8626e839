# Copyright (c) mmfacealign contributors. All rights reserved.
"""Draw one SynthFace '3d' face at several yaws, with the contour on the visible silhouette (top row) and on the
hidden jaw line (bottom row), landmarks drawn over it (README, "SynthFace").

    python tools/misc/synthface_pose_example.py --out docs/images/synthface3d_yaw60.png [--yaws 0 30 60 -60]
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='docs/images/synthface3d_yaw60.png')
    p.add_argument('--yaws', type=float, nargs='+', default=[0, 30, 60, -60])
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--seed', type=int, default=5)
    args = p.parse_args(argv)
    import cv2

    from mmfacealign.datasets.synthface.head3d import Camera
    from mmfacealign.datasets.synthface.photo_textures import get_photo_bank, sample_background
    from mmfacealign.datasets.synthface.renderer3d import RenderFeatures, build_geometry, render_face3d, sample_style3d
    from mmfacealign.datasets.synthface.shape_model import load_pdm
    from mmfacealign.visualization.face_drawing import draw_face_landmarks
    pdm = load_pdm('auto')
    rows = []
    for silhouette in (True, False):
        tiles = []
        for yaw in args.yaws:
            features = RenderFeatures(silhouette_contour=silhouette, glasses=False, facial_hair=False)
            rng = np.random.default_rng(args.seed)
            geo = build_geometry(pdm.mean, pdm.depth, Camera(np.radians(yaw), np.radians(-5), 0, 10),
                                 (args.size / 2, args.size / 2), 0.6 * args.size, features)
            img = sample_background(np.random.default_rng(args.seed), args.size, args.size, get_photo_bank())
            render_face3d(img, geo, sample_style3d(rng, features), features, rng)
            drawn = draw_face_landmarks(img[..., ::-1].copy(), geo.pts, (255, 0, 0))[..., ::-1].copy()
            label = f'yaw {yaw:+.0f}, ' + ('silhouette' if silhouette else 'jaw line')
            cv2.putText(drawn, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(drawn, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(drawn)
        rows.append(np.concatenate(tiles, 1))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, np.concatenate(rows, 0))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
