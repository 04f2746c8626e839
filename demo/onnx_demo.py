# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face landmarks in a photo with an end-to-end ONNX graph and nothing but onnxruntime, numpy and OpenCV.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out aligner.onnx --end-to-end
    python demo/onnx_demo.py aligner.onnx photo.jpg [--out photo_landmarks.jpg] [--bbox X1 Y1 X2 Y2 ...]

The graph (mmfacealign/deployment/end_to_end.py) takes the image as OpenCV reads it (H x W x 3 uint8, BGR) and
landmark boxes (N x 4, x1 y1 x2 y2), and returns the landmarks in image pixels: the crop, normalisation, network
and decoding are inside. Faces are found with OpenCV's Haar cascade, whose boxes are mapped to landmark boxes by
the calibration the export stores in the graph's metadata; --bbox gives landmark boxes yourself. The drawing marks
each landmark with a red dot (a hollow magenta ring where a model with an occlusion output says it is occluded)
and prints the landmarks; --json writes them. This file imports nothing from mmfacealign, on purpose.
"""
import argparse
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort


def calibration(session, detector: str = 'haar'):
    """(dx, dy, sw, sh) of the detector from the graph's metadata (identity when absent)."""
    meta = session.get_modelmeta().custom_metadata_map
    text = meta.get(f'mmfacealign.box_calibration.{detector}')
    return tuple(float(v) for v in text.split()) if text else (0.0, 0.0, 1.0, 1.0)


def detect_faces(image_bgr: np.ndarray, cal) -> np.ndarray:
    """OpenCV Haar-cascade faces (largest first) mapped to landmark boxes (N, 4) float32."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + 'haarcascade_frontalface_default.xml')
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in found], np.float32).reshape(-1, 4)
    boxes = boxes[np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
    dx, dy, sw, sh = cal
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 + dx * w, (boxes[:, 1] + boxes[:, 3]) / 2 + dy * h
    return np.stack([cx - sw * w / 2, cy - sh * h / 2, cx + sw * w / 2, cy + sh * h / 2], 1).astype(np.float32)


def align(session, image_bgr: np.ndarray, boxes: np.ndarray) -> dict:
    outs = session.run(None, {'image': image_bgr, 'bboxes': boxes})
    return {o.name: v for o, v in zip(session.get_outputs(), outs)}


def draw(image_bgr: np.ndarray, boxes: np.ndarray, result: dict) -> np.ndarray:
    out = image_bgr.copy()
    occluded = result.get('keypoints_occluded')
    for i, (box, kpts) in enumerate(zip(boxes, result['keypoints'])):
        radius = max(1, int(round((box[2] - box[0]) / 60)))
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (255, 255, 255), 1)
        for k, (x, y) in enumerate(kpts):
            if occluded is not None and occluded[i, k] > 0.5:
                cv2.circle(out, (int(round(x)), int(round(y))), radius + 1, (255, 0, 255), 1, cv2.LINE_AA)
            else:
                cv2.circle(out, (int(round(x)), int(round(y))), radius, (0, 0, 255), -1, cv2.LINE_AA)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('onnx')
    p.add_argument('image')
    p.add_argument('--out', help='drawn image (default: IMAGE with _landmarks before the extension)')
    p.add_argument('--json', help='write boxes and landmarks here')
    p.add_argument('--bbox', type=float, nargs=4, action='append', metavar=('X1', 'Y1', 'X2', 'Y2'),
                   help='a landmark box (repeat for several faces); default: OpenCV Haar-cascade detection')
    args = p.parse_args(argv)
    image = cv2.imread(args.image)
    if image is None:
        sys.exit(f'onnx_demo: cannot read image {args.image}')
    session = ort.InferenceSession(args.onnx, providers=['CPUExecutionProvider'])
    if [i.name for i in session.get_inputs()] != ['image', 'bboxes']:
        sys.exit(f'onnx_demo: {args.onnx} is not an end-to-end graph (inputs image, bboxes); export it with '
                 'tools/deployment/export_onnx.py --end-to-end')
    boxes = np.asarray(args.bbox, np.float32) if args.bbox else detect_faces(image, calibration(session))
    if len(boxes) == 0:
        sys.exit('onnx_demo: no face found; give its landmark box with --bbox X1 Y1 X2 Y2')
    result = align(session, image, boxes)
    out = args.out or args.image.rsplit('.', 1)[0] + '_landmarks.jpg'
    cv2.imwrite(out, draw(image, boxes, result))
    faces = [dict(bbox=b.round(1).tolist(), keypoints=k.round(2).tolist(), **(
        dict(keypoints_occluded=result['keypoints_occluded'][i].round(3).tolist())
        if 'keypoints_occluded' in result else {})) for i, (b, k) in enumerate(zip(boxes, result['keypoints']))]
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(image=args.image, faces=faces), f)
    print(f'onnx_demo: {len(faces)} face(s) -> {out}')
    return dict(out=out, faces=faces, result=result, boxes=boxes)


if __name__ == '__main__':
    main()
