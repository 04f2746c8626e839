# Copyright (c) mmfacealign contributors. All rights reserved.
"""Write a masked copy of a 68-point face dataset: the Masked-300W protocol of SRN (Pattern Recognition 2022).

    python tools/dataset_converters/mask_faces.py ANN.json IMG_ROOT OUT_ROOT [--seed 0] [--texture-prob 0.5]

Every face of ANN.json (MMPose COCO-style, 68 points in the iBUG order, e.g. the 300W test jsons) gets a procedural
face mask over the nose bottom, mouth and jaw (mmfacealign.datasets.transforms.FaceMaskOcclusion, the drawing of
SynthFace's mask occluder), seeded by the seed and the image id, so the result is reproducible and, for one face
per image (300W) saved losslessly (PNG), identical to what the masked test config
(configs/srn/td-srn_pcnn_1xb64-100k_300w-224x224_masked.py) draws on the fly; JPEG files are re-encoded (lossy) under
their own names. An image with several faces gets all their masks on one copy (the config draws one per sample),
each from the same seed but its own landmarks. Writes
OUT_ROOT/images/<file_name> and OUT_ROOT/annotations/<ANN name>, whose annotations gain "occluded" (68 flags: 1
where the mask covers the landmark), which mmfacealign's face datasets read as the occlusion labels. Images with
several faces get all of them masked. Nothing is written for a file that fails (the json is written last,
atomically).
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import defaultdict

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mmfacealign.datasets.transforms import FaceMaskOcclusion  # noqa: E402
from mmfacealign.utils.io import dump_json_atomic  # noqa: E402


def mask_dataset(ann_file: str, img_root: str, out_root: str, seed: int = 0, texture_prob: float = 0.5) -> dict:
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    for key in ('images', 'annotations'):
        if key not in coco:
            raise ValueError(f'{ann_file}: not a COCO-style annotation file (no "{key}")')
    by_image = defaultdict(list)
    for ann in coco['annotations']:
        by_image[ann['image_id']].append(ann)
    transform = FaceMaskOcclusion(seed=seed, texture_prob=texture_prob)
    for image in coco['images']:
        src = osp.join(img_root, image['file_name'])
        img = cv2.imread(src)
        if img is None:
            raise FileNotFoundError(f'{ann_file}: image id {image["id"]}: cannot read {src}')
        for ann in by_image.get(image['id'], []):
            kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
            if len(kpts) != 68:
                raise ValueError(f'{ann_file}: annotation id {ann.get("id")} has {len(kpts)} keypoints; the mask '
                                 'needs the 68-point iBUG layout')
            res = transform(dict(img=img, keypoints=kpts[None, :, :2], img_id=image['id'],
                                 keypoints_occluded=np.zeros((1, 68), np.float32)))
            img = res['img']
            previous = np.asarray(ann.get('occluded', [0] * 68), dtype=np.float32)
            ann['occluded'] = np.maximum(previous, res['keypoints_occluded'][0]).astype(int).tolist()
        dst = osp.join(out_root, 'images', image['file_name'])
        os.makedirs(osp.dirname(dst), exist_ok=True)
        if not cv2.imwrite(dst, img):
            raise OSError(f'cannot write {dst}')
    out_ann = osp.join(out_root, 'annotations', osp.basename(ann_file))
    dump_json_atomic(coco, out_ann)
    return dict(images=len(coco['images']), faces=len(coco['annotations']), annotations=out_ann)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann_file', help='COCO-style json with 68-point faces')
    p.add_argument('img_root', help='folder the json file names are relative to')
    p.add_argument('out_root', help='output folder (images/ and annotations/ are written inside)')
    p.add_argument('--seed', type=int, default=0, help='mask seed (default 0, as the masked test config)')
    p.add_argument('--texture-prob', type=float, default=0.5, help='probability of a printed mask pattern')
    args = p.parse_args(argv)
    try:
        info = mask_dataset(args.ann_file, args.img_root, args.out_root, args.seed, args.texture_prob)
    except (OSError, ValueError) as e:
        sys.exit(f'mask_faces: {e}')
    print(f"mask_faces: {info['faces']} faces in {info['images']} images masked -> {args.out_root} "
          f"(annotations: {info['annotations']})")


if __name__ == '__main__':
    main()
