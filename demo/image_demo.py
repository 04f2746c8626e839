# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face-alignment demo on one image: find the face (or take your box), predict its landmarks, draw them.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT --out result.png [--bbox X1 Y1 X2 Y2] [--device cpu]

Without --bbox, faces are found with OpenCV's Haar cascade (shipped with opencv-python 4.x); every detected face
is aligned. The demo stops with a clear message when no face is found: pass --bbox then.
Note: models trained on SynthFace only see synthetic faces; use a model trained on WFLW/300W for photographs.
"""
import argparse
import os.path as osp
import sys

import mmcv
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.visualization import FaceAlignmentVisualizer  # noqa: E402


def detect_faces(img_bgr: np.ndarray, min_size: int = 24) -> np.ndarray:
    """Face boxes ``(F, 4)`` xyxy from OpenCV's frontal-face Haar cascade (largest first)."""
    import cv2
    if not hasattr(cv2, 'CascadeClassifier') or not hasattr(cv2, 'data'):
        raise RuntimeError('this OpenCV build has no Haar cascades (opencv-python 5 dropped them); '
                           'install opencv-python<5 or pass --bbox')
    cascade = cv2.CascadeClassifier(osp.join(cv2.data.haarcascades, 'haarcascade_frontalface_default.xml'))
    gray = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    if len(found) == 0:
        return np.zeros((0, 4), np.float32)
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in found], np.float32)
    return boxes[np.argsort(-(boxes[:, 2] - boxes[:, 0]))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('image')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True, help='output image with the landmarks drawn')
    p.add_argument('--bbox', type=float, nargs=4, metavar=('X1', 'Y1', 'X2', 'Y2'), help='face box (pixels)')
    p.add_argument('--device', default='cpu')
    args = p.parse_args(argv)
    from mmpose.apis import inference_topdown

    from mmfacealign.apis import init_model

    img = mmcv.imread(args.image)
    if img is None:
        sys.exit(f'image_demo: cannot read image {args.image!r}')
    boxes = np.array([args.bbox], np.float32) if args.bbox else detect_faces(img)
    if len(boxes) == 0:
        sys.exit(f'image_demo: no face found in {args.image}; pass its box with --bbox X1 Y1 X2 Y2')
    model = init_model(args.config, args.checkpoint, device=args.device)
    results = inference_topdown(model, img, bboxes=boxes, bbox_format='xyxy')
    vis = FaceAlignmentVisualizer()
    drawn = img[..., ::-1].copy()
    for r in results:
        drawn = vis.draw_landmarks(drawn, None, r.pred_instances.keypoints[0])
        vis.set_image(drawn)
        vis.draw_bboxes(r.pred_instances.bboxes.reshape(-1, 4), edge_colors=(255, 255, 255))
        drawn = vis.get_image()
    mmcv.imwrite(drawn[..., ::-1], args.out)
    print(f'image_demo: {len(results)} face(s) -> {args.out}')


if __name__ == '__main__':
    main()
