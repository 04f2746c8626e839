# Copyright (c) mmfacealign contributors. All rights reserved.
"""Export a top-down face-alignment model to ONNX and check it against onnxruntime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out model.onnx [--opset 17] [--input-size W H]
        [--batch 3] [--check | --no-check] [--atol 1e-4] [--cfg-options k=v ...]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out aligner.onnx --end-to-end [--px-tol 0.5]

CONFIG is any config of the project (baseline, SCDF static/dynamic, FFLD, ODN, SRN) or an MMPose one by its
``mmpose::`` name; CHECKPOINT is loaded strictly (missing, unexpected and shape-mismatched keys are listed and the
tool exits 5, as the demo does). The graph computes ``backbone -> neck -> head.forward`` (for the project's heads:
(B, K, 2) normalised input coordinates; SRN's cascade unrolled) with a dynamic batch axis; decoding stays in Python
(``mmfacealign.deployment.ORTFaceAligner``). The check (on by default) runs PyTorch and onnxruntime on the same
random inputs at batch 1 and at --batch, prints the max abs difference and exits 4 above --atol (times the
largest output when that exceeds 1: MMPose's SimCC logits; the project's coordinates are below 1).

--end-to-end writes one graph from an image to landmarks instead (mmfacealign.deployment.end_to_end): inputs
``image`` (H x W x 3 uint8, BGR as OpenCV reads it) and ``bboxes`` (N x 4 landmark boxes, x1 y1 x2 y2), outputs
``keypoints`` (N x K x 2, image pixels), ``scores`` (N x K) and, with an occlusion output, ``keypoints_occluded``;
the crop, normalisation, network and decoding inside, dynamic image size and N. Its check runs the graph and the
PyTorch pipeline (``align_faces`` with the flip test off: the graph has one forward pass) on a SynthFace face at
four boxes, one partly outside the image, and exits 4 when a landmark differs by more than --px-tol pixels (or an
occlusion probability by more than 0.05). ``demo/onnx_demo.py`` runs such a graph with onnxruntime, numpy and
OpenCV only.

Exit codes: 0 done; 5 the checkpoint is missing or does not match the config (the demo's code for the same fault);
3 an operator has no ONNX form at the opset (op and opset named); 4 onnxruntime differs from PyTorch by more than
--atol; 1 any other error.
"""
import argparse
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone

from mmfacealign.apis import EXIT_CHECKPOINT_MISMATCH, CheckpointMismatchError, input_size_of  # noqa: E402
from mmfacealign.deployment import onnx_export as ox  # noqa: E402

EXIT_UNSUPPORTED, EXIT_CHECK = 3, 4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config path, or mmpose::face_2d_keypoint/... for an MMPose config')
    p.add_argument('checkpoint', help="checkpoint (.pth), loaded strictly; 'none' exports random weights")
    p.add_argument('--out', required=True, help='output .onnx path')
    p.add_argument('--opset', type=int, default=ox.DEFAULT_OPSET, help=f'ONNX opset (default {ox.DEFAULT_OPSET})')
    p.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                   help="input width and height (default: the config's test pipeline)")
    p.add_argument('--batch', type=int, default=3, help='second batch size of the check (the first is 1)')
    p.add_argument('--check', dest='check', action='store_true', default=True,
                   help='compare with onnxruntime (default)')
    p.add_argument('--no-check', dest='check', action='store_false', help='skip the onnxruntime check')
    p.add_argument('--atol', type=float, default=1e-4, help='largest max abs difference accepted (default 1e-4)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings, key=value')
    p.add_argument('--end-to-end', action='store_true',
                   help='one graph from image and boxes to landmarks in image pixels (see above)')
    p.add_argument('--px-tol', type=float, default=0.5,
                   help='--end-to-end check: most landmark difference from PyTorch, in pixels (default 0.5)')
    return p.parse_args(argv)


def run(args) -> int:
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = ox.build_model(args.config, checkpoint, cfg_options=args.cfg_options)
    input_size = tuple(args.input_size) if args.input_size else input_size_of(model.cfg)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    start = time.perf_counter()
    if args.end_to_end:
        return run_end_to_end(args, model, input_size, start)
    names = ox.export_onnx(model, args.out, input_size, opset=args.opset)
    print(f'exported {args.out} (opset {args.opset}, input (batch, 3, {input_size[1]}, {input_size[0]}), outputs '
          f'{names}, dynamic batch) in {time.perf_counter() - start:.1f} s')
    if args.check:
        batches = sorted({1, max(1, args.batch)})
        diffs = ox.check_onnx(model, args.out, input_size, batches=batches, atol=args.atol)
        for batch, (diff, scale) in diffs.items():
            print(f'onnxruntime vs PyTorch, batch {batch}: max abs difference {diff:.3g} (outputs up to '
                  f'{scale:.3g}; tolerance {args.atol:g} x max(1, that))')
    return 0


def run_end_to_end(args, model, input_size, start) -> int:
    from mmfacealign.deployment.end_to_end import check_end_to_end, export_end_to_end
    names = export_end_to_end(model, args.out, input_size, opset=args.opset)
    print(f'exported {args.out} (opset {args.opset}, end to end: inputs image (H, W, 3) uint8 BGR and bboxes '
          f'(N, 4), outputs {names}, dynamic H, W and N) in {time.perf_counter() - start:.1f} s')
    if args.check:
        px, prob = check_end_to_end(model, args.out, px_tol=args.px_tol)
        print(f'end-to-end graph vs the PyTorch pipeline (flip test off), 4 boxes: max landmark difference '
              f'{px:.3g} px' + (f', occlusion probabilities {prob:.3g}' if prob is not None else '')
              + f' (tolerance {args.px_tol:g} px)')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (CheckpointMismatchError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_CHECKPOINT_MISMATCH
    except ox.UnsupportedOpError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_UNSUPPORTED
    except ox.OnnxCheckError as err:
        print(f'error: {err}', file=sys.stderr)
        return EXIT_CHECK
    except ox.ExportError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
