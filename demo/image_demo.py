# Copyright (c) mmfacealign contributors. All rights reserved.
"""Face-alignment demo on images: find the faces (or take your boxes), predict their landmarks, draw and save them.

    python demo/image_demo.py INPUT                      # the default real-photo model, results in demo_results/
    python demo/image_demo.py INPUT CONFIG CHECKPOINT [--out-dir DIR | --out FILE]
        [--bbox X1 Y1 X2 Y2 [--bbox ...]] [--detector default|mtcnn|haar|lbp] [--min-face-size PX]
        [--max-faces N] [--backend pytorch|onnxruntime] [--onnx MODEL.onnx] [--device cpu] [--no-strict]

INPUT is an image, a folder (its images, by extension; --recursive for sub-folders) or a quoted glob
('photos/*.jpg'). For every image, --out-dir receives the drawn image (landmarks in red, face boxes in white,
drawn by mmfacealign's FaceAlignmentVisualizer) under the image's name, and ``<name>.json``:

    {"image": "<input path>", "image_size": [h, w],
     "faces": [{"bbox": [x1, y1, x2, y2], "score": s, "keypoints": [[x, y], ...], "keypoint_scores": [...]}]}

A model with an occlusion output (the ``*-occ_*`` configs, OcclusionPredictHead) adds ``"keypoints_occluded"``:
each landmark's probability of being occluded; the drawing shows the landmarks above 0.5 as hollow magenta rings.

--out FILE (one image only; kept from the first version of the demo) writes the drawn image there and the json
beside it (FILE with .json). A folder or glob shows a progress bar and ends with a summary.

Faces: every --bbox given (pixels, applied to every input image), else the face detector's boxes (largest first;
--max-faces keeps the largest N). --detector default is MTCNN (facenet-pytorch, weights in its wheel): on the
sample photos of scikit-image and matplotlib it found every face, also covered or turned, with no false positive
(``python tools/analysis_tools/compare_face_detectors.py`` reruns that comparison). haar (OpenCV) is about 4x
faster on CPU but misses occluded and turned faces; lbp (scikit-image) gives false positives.

Models: any mmfacealign config with its checkpoint, or MMPose's own face models (config + checkpoint). The
checkpoint is checked against the config before loading: missing, unexpected and mis-shaped keys are named
(--no-strict loads the matching ones and warns). --backend onnxruntime --onnx MODEL.onnx runs an exported model
(tools/deployment/export_onnx.py) with the same pre- and post-processing, but without the flip test
(configs with flip_test=True then differ a little from --backend pytorch).
Without CONFIG and CHECKPOINT the demo runs the default real-photo model shipped in checkpoints/ (trained on
SynthFace's '3d' style only; README "A model for real photographs" says how close it is to a peer predictor on
real photos). A model trained on WFLW/300W (bring the data) is the way to better accuracy.

Boxes: detected boxes are mapped to the landmark box the model was trained with (a per-detector calibration,
mmfacealign/apis/box_convention.py); --bbox boxes are taken as tight landmark boxes unless --bbox-convention
names the detector they come from.

Exit codes:
    0  done (a folder or glob: at least one image was read; images without a face are listed, not an error)
    2  bad command line (argparse)
    3  input not found or unreadable: a single image that cannot be read (named), a folder or glob without any
       readable image; in a folder, an unreadable image is warned about, counted, and skipped
    4  no face found in the single input image (pass its box with --bbox)
    5  the checkpoint does not match the config (missing / unexpected / mis-shaped keys named), or is missing
    6  the backend or detector is not available (its package is not installed; the message says which)
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.apis.face_detectors import DetectorUnavailable, detector_names  # noqa: E402
from mmfacealign.apis.image_inference import IMAGE_EXTENSIONS, BackendUnavailable, ImageReadError  # noqa: E402
from mmfacealign.apis.inference import EXIT_CHECKPOINT_MISMATCH, CheckpointMismatchError  # noqa: E402
from mmfacealign.utils.cli import ToolError, run_tool  # noqa: E402

EXIT_OK = 0
EXIT_UNREADABLE = 3
EXIT_NO_FACE = 4
EXIT_BAD_CHECKPOINT = EXIT_CHECKPOINT_MISMATCH          # 5, as tools/deployment/export_onnx.py
EXIT_UNAVAILABLE = 6


DemoError = ToolError      # a failure with its exit code (mmfacealign.utils.cli), shared with the video demo


def list_images(source: str, recursive: bool = False) -> Tuple[List[str], str]:
    """``(paths, kind)`` of an image file, a folder or a glob; kind is 'image', 'folder' or 'glob'."""
    if osp.isdir(source):
        pattern = osp.join(source, '**', '*') if recursive else osp.join(source, '*')
        paths = [p for p in glob.glob(pattern, recursive=recursive)
                 if osp.isfile(p) and p.lower().endswith(IMAGE_EXTENSIONS)]
        return sorted(paths), 'folder'
    if glob.has_magic(source):
        return sorted(p for p in glob.glob(source, recursive=recursive) if osp.isfile(p)), 'glob'
    return [source], 'image'


def output_names(paths: List[str]) -> List[str]:
    """Base names for the outputs, made unique (``name_1.jpg``) when a glob gathers equal names."""
    seen, names = {}, []
    for p in paths:
        name = osp.basename(p)
        stem, ext = osp.splitext(name)
        if ext.lower() not in IMAGE_EXTENSIONS:
            ext = '.png'
        n = seen.get(name.lower(), 0)
        seen[name.lower()] = n + 1
        names.append(f'{stem}{ext}' if n == 0 else f'{stem}_{n}{ext}')
    return names


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help="an image, a folder of images, or a quoted glob ('photos/*.jpg')")
    p.add_argument('config', nargs='?', default=None,
                   help='model config (default: the real-photo model shipped in checkpoints/, with its checkpoint)')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='.pth checkpoint (pytorch backend; required there with a CONFIG, unless --random-weights)')
    out = p.add_mutually_exclusive_group()
    out.add_argument('--out-dir', default=None, help='folder for the drawn images and the json files '
                                                    '(default: demo_results/)')
    out.add_argument('--out', help='single image only: the drawn image (the json goes beside it)')
    p.add_argument('--bbox', type=float, nargs=4, action='append', metavar=('X1', 'Y1', 'X2', 'Y2'),
                   help='face box in pixels (repeat for several faces); skips the detector')
    p.add_argument('--detector', default='default', choices=['default', *detector_names()],
                   help='face detector when no --bbox is given (default: mtcnn)')
    p.add_argument('--min-face-size', type=int, default=24, help='smallest face side the detector keeps (px)')
    p.add_argument('--bbox-convention', default='landmark',
                   help="what --bbox boxes are: 'landmark' (a tight box around the face's landmarks: the models' "
                        "input convention) or a detector name whose boxes they are (then mapped by its "
                        "calibration, mmfacealign/apis/box_convention.py); detected boxes are always mapped")
    p.add_argument('--max-faces', type=int, default=None, help='keep the N largest detected faces')
    p.add_argument('--backend', default='pytorch', choices=['pytorch', 'onnxruntime'])
    p.add_argument('--onnx', help='exported model for --backend onnxruntime')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-strict', action='store_true',
                   help='load a checkpoint that does not match the config (matching keys only; warns)')
    p.add_argument('--random-weights', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--recursive', action='store_true', help='folders: include sub-folders; globs: allow **')
    p.add_argument('--no-bbox', action='store_true', help='do not draw the face boxes')
    p.add_argument('--no-contours', action='store_true',
                   help='draw the landmarks as points only (default: joined along the jaw, brows, nose, eyes, lips)')
    return p.parse_args(argv)


def run(args) -> dict:
    import mmcv
    from mmengine.utils import ProgressBar

    from mmfacealign.apis.image_inference import align_faces, draw_faces, faces_to_json, load_aligner, read_image

    paths, kind = list_images(args.input, args.recursive)
    if kind != 'image' and not paths:
        raise DemoError(EXIT_UNREADABLE, f'no image found in {args.input!r} (extensions: '
                                         f'{", ".join(IMAGE_EXTENSIONS)})')
    if args.out and kind != 'image':
        raise DemoError(2, '--out takes one image; use --out-dir for a folder or a glob')
    if kind == 'image':   # fail on an unreadable image before loading the model
        try:
            first_img = read_image(paths[0])
        except ImageReadError as e:
            raise DemoError(EXIT_UNREADABLE, str(e)) from e
    if args.config is None and (args.checkpoint is not None or args.backend != 'pytorch'):
        raise DemoError(2, 'a CHECKPOINT or --backend onnxruntime needs its CONFIG')
    if args.config is not None and args.backend == 'pytorch' and args.checkpoint is None \
            and not args.random_weights:
        raise DemoError(2, 'the pytorch backend needs a CHECKPOINT')
    if args.out_dir is None and args.out is None:
        args.out_dir = 'demo_results'
    if args.bbox_convention != 'landmark':
        if args.bbox_convention not in ('default', *detector_names()):
            raise DemoError(2, f"--bbox-convention: 'landmark' or a detector name ({', '.join(detector_names())}), "
                               f'got {args.bbox_convention!r}')
    if args.backend == 'onnxruntime' and not args.onnx:
        raise DemoError(2, '--backend onnxruntime needs the exported model: --onnx model.onnx '
                           '(tools/deployment/export_onnx.py writes it)')

    try:
        model = load_aligner(args.config, args.checkpoint, device=args.device, backend=args.backend,
                             onnx=args.onnx, strict=not args.no_strict)
    except CheckpointMismatchError as e:
        raise DemoError(EXIT_BAD_CHECKPOINT, f'{e}\n(pass the checkpoint trained with this config, or '
                                             '--no-strict to load the matching keys only)') from e
    except FileNotFoundError as e:
        raise DemoError(EXIT_BAD_CHECKPOINT if 'checkpoint' in str(e) else EXIT_UNREADABLE, str(e)) from e
    except BackendUnavailable as e:
        raise DemoError(EXIT_UNAVAILABLE, str(e)) from e
    except ValueError as e:                      # e.g. an ONNX model exported at another input size
        raise DemoError(2, str(e)) from e

    bboxes = np.asarray(args.bbox, np.float32) if args.bbox else None
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    names = [osp.basename(args.out)] if args.out else output_names(paths)
    summary = dict(images=len(paths), processed=0, faces=0, unreadable=[], no_face=[], outputs=[])
    bar = ProgressBar(len(paths)) if kind != 'image' else None
    for path, name in zip(paths, names):
        try:
            img = first_img if kind == 'image' else read_image(path)
        except ImageReadError as e:
            summary['unreadable'].append(path)
            print(f'\nimage_demo: warning: {e}; skipped', file=sys.stderr)
            bar and bar.update()
            continue
        try:
            faces = align_faces(model, img, bboxes=bboxes, detector=args.detector,
                                min_face_size=args.min_face_size, max_faces=args.max_faces,
                                box_convention='auto' if args.bbox_convention == 'landmark'
                                else args.bbox_convention)
        except DetectorUnavailable as e:
            raise DemoError(EXIT_UNAVAILABLE, f'{e}') from e
        if not faces:
            summary['no_face'].append(path)
            if kind == 'image':
                raise DemoError(EXIT_NO_FACE, f'no face found in {path} (detector: {args.detector}); pass its box '
                                              'with --bbox X1 Y1 X2 Y2, or try another --detector')
        out_img = osp.join(out_dir, name)
        out_json = osp.splitext(out_img)[0] + '.json'
        mmcv.imwrite(draw_faces(img, faces, draw_bbox=not args.no_bbox, draw_contours=not args.no_contours,
                                dataset_meta=getattr(model, 'dataset_meta', None)), out_img)
        with open(out_json, 'w') as f:
            json.dump(faces_to_json(faces, image=path, image_size=img.shape), f)
        summary['faces'] += len(faces)
        summary['processed'] += 1
        summary['outputs'].append(dict(image=out_img, json=out_json, faces=len(faces)))
        if kind == 'image':
            print(f'image_demo: {len(faces)} face(s) -> {out_img}, {out_json}')
        bar and bar.update()
    if kind != 'image':
        print(f'\nimage_demo: {summary["processed"]} of {len(paths)} image(s) processed, {summary["faces"]} face(s) '
              f'-> {out_dir}')
        if summary['no_face']:
            print(f'image_demo: no face found in {len(summary["no_face"])} image(s): '
                  + ', '.join(summary['no_face']))
        if summary['unreadable']:
            print(f'image_demo: {len(summary["unreadable"])} unreadable image(s) skipped: '
                  + ', '.join(summary['unreadable']))
        if summary['processed'] == 0:
            raise DemoError(EXIT_UNREADABLE, f'none of the {len(paths)} image(s) of {args.input!r} could be read')
    return summary


def main(argv: Optional[list] = None) -> dict:
    return run_tool('image_demo', run, parse_args(argv))


if __name__ == '__main__':
    main()
