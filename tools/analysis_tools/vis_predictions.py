# Copyright (c) mmfacealign contributors. All rights reserved.
"""Draw a model's predictions on test faces: ground truth and prediction in two colours, tiled in one PNG.

    python tools/analysis_tools/vis_predictions.py CONFIG CHECKPOINT --out preds.png [--num 16]
        [--ann-file annotations/synthface_test_occluded.json] [--cols 8] [--device cpu] [--no-contours]

Faces are taken from the config's test dataset (the first one of a ConcatDataset; or --ann-file under its data
root), cropped by their
ground-truth boxes; green = ground truth, red = prediction, yellow = the error of each landmark. Both sets are
joined along the facial contours (68- and 98-point layouts, or the dataset's skeleton; --no-contours: points only),
ground-truth landmarks the dataset marks occluded (``keypoints_occluded``, e.g. SynthFace, COFW) are hollow
cyan rings, and, for a model with the occlusion output (``OcclusionPredictHead``), the landmarks it predicts
occluded (probability above 0.5) are magenta rings.
"""
import argparse
import os
import os.path as osp
import sys

import mmcv
import numpy as np
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.visualization import FaceAlignmentVisualizer, tile_images  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument('--num', type=int, default=16, help='number of faces')
    p.add_argument('--cols', type=int, default=8)
    p.add_argument('--tile', type=int, default=192, help='side of each tile in pixels')
    p.add_argument('--ann-file', help='annotation file (relative to the dataset data_root) to draw faces from')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-contours', action='store_true', help='draw the landmarks as points only')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return p.parse_args(argv)


def crop_box(img: np.ndarray, bbox: np.ndarray, pad: float = 1.25):
    """Square crop around ``bbox`` (xyxy) enlarged by ``pad``; returns the crop and its offset."""
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    half = pad * max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / 2
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(img.shape[1], cx + half)), int(min(img.shape[0], cy + half))
    return img[y0:y1, x0:x1], np.array([x0, y0])


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    from mmpose.apis import inference_topdown
    from mmpose.registry import DATASETS

    from mmfacealign.apis import init_model

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    ds_cfg = cfg.test_dataloader.dataset.copy()
    if ds_cfg.get('type') == 'ConcatDataset':   # e.g. SynthFace's three test splits: draw from the first
        ds_cfg = ds_cfg.datasets[0].copy()
    if args.ann_file:
        ds_cfg.ann_file = args.ann_file
    ds_cfg.pipeline = []
    dataset = DATASETS.build(ds_cfg)
    model = init_model(cfg, args.checkpoint, device=args.device)
    vis = FaceAlignmentVisualizer(draw_contours=not args.no_contours)
    tiles = []
    for i in range(min(args.num, len(dataset))):
        info = dataset.get_data_info(i)
        img = mmcv.imread(info['img_path'], channel_order='rgb')
        result = inference_topdown(model, info['img_path'], bboxes=info['bbox'], bbox_format='xyxy')[0]
        pred = result.pred_instances.keypoints[0]
        gt = info['keypoints'][0]
        crop, off = crop_box(img, info['bbox'][0])
        scale = args.tile / max(crop.shape[:2])
        big = mmcv.imrescale(crop, scale, interpolation='bicubic')
        occluded = info.get('keypoints_occluded')
        pred_occluded = result.pred_instances.get('keypoints_occluded')
        tiles.append(vis.draw_landmarks(big, (gt - off) * scale, (pred - off) * scale,
                                        gt_occluded=None if occluded is None else np.asarray(occluded)[0],
                                        pred_occluded=None if pred_occluded is None else pred_occluded[0],
                                        dataset_meta=dataset.metainfo))
    grid = tile_images(tiles, cols=min(args.cols, len(tiles)), tile=args.tile)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    mmcv.imwrite(grid[..., ::-1], args.out)
    print(f'wrote {len(tiles)} faces to {args.out} (green: ground truth, red: prediction; rings: occluded, '
          'cyan in the ground truth, magenta predicted)')


if __name__ == '__main__':
    main()
