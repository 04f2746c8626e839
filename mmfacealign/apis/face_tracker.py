# Copyright (c) mmfacealign contributors. All rights reserved.
"""Landmarks of every face through a video: :class:`FaceTracker` (any top-down face model, PyTorch or ONNX).

One frame (:meth:`FaceTracker.step`):

1. **Predicted boxes.** Each live track's box for this frame is the tight landmark box of its previous
   prediction, the convention the models are trained on (``GetBBoxCenterScale`` pads it by 1.25), moved by the
   track's last box motion (``motion=True``: a constant-velocity guess, the change between its last two landmark
   boxes; zero after a frame cropped from a detection, whose change is the correction, not motion).
2. **Detection** runs on the first frame, every ``redetect_interval`` frames, whenever there is no live track, and
   again on a frame where a track was just lost or is doubtful (step 4). Detector boxes are mapped to landmark boxes
   by the detector's calibration (:mod:`mmfacealign.apis.box_convention`). **Association**: the detections are
   matched to the tracks' predicted boxes by IoU (the assignment of largest total IoU, pairs below ``match_iou``
   dropped; ``scipy.optimize.linear_sum_assignment``). A matched track whose predicted box has drifted from its
   detection (IoU below ``reanchor_iou``) is cropped from the detection this frame: this is what stops slow drift
   (the detector does not inherit the tracker's error); one that agrees with it keeps its own box, which is the
   better crop (a detector's box is noisier than a landmark box: on SynthFace video, re-anchoring every track on
   every detection raised the NME, README "Video"). An unmatched detection starts a new track (up to ``max_faces``
   tracks); an unmatched track keeps its predicted box and counts a miss (``max_missed`` detections in a row without
   a match end it: a face that left or was lost without notice).
3. **Landmarks**: all tracks' crops in one batch (:func:`mmfacealign.apis.align_faces` with landmark boxes).
4. **Loss rule** (:class:`~mmfacealign.apis.track_loss_rule.TrackLossRule`, ``rule`` sets it): the geometric tests
   (non-finite, tiny, outside the image, size jump or IoU drop against the crop box) and the model-based ones: shape
   plausibility (:func:`~mmfacealign.apis.track_loss_rule.shape_residual` against the frontal template above
   ``max_shape_residual``), face presence for a model with an occlusion output (the mean occlusion probability above
   ``max_occluded``: the crop has slid off the face) and, when set, confidence (mean keypoint score below
   ``min_score``, for heatmap / SimCC models). Defaults: :data:`DEFAULT_RULE`. A lost track triggers detection on the
   same frame (if it has not run), is re-associated (any overlap with a detection: a lost track has usually slid off
   its face) and predicted again from its detection, keeping its id (reported in ``recovered``); without an
   overlapping detection, or when that prediction fails the rule too, it ends.
   A track that passes the rule but whose mean occlusion probability exceeds ``redetect_occluded`` is *doubtful*: its
   crop is sliding off the face (on SynthFace video the probability rises with the drift, long before the loss rule
   fires), so detection runs on that frame and re-anchors it when its box has drifted from its detection. Two tracks
   on one face (landmarks within ``duplicate_dist``): the younger ends.
5. **Smoothing** (``smoothing``: :class:`~mmfacealign.apis.one_euro_filter.OneEuroFilter` arguments, or None):
   each track's output landmarks are filtered; the boxes of step 1 come from the unfiltered ones, so smoothing
   adds no lag to the crop.

The default thresholds were chosen from SynthFace (the figures are in README "Video"): ``max_shape_residual``
lies above the residuals of every ground-truth SynthFace shape (posed up to 45 degrees of yaw, occluded) and below
those of random point sets; ``max_occluded`` above the mean occlusion probability of a model's prediction in the
ground-truth box, passing occluders included, and below that of a crop moved off the face.
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np

from mmfacealign.utils.boxes import box_iou, landmark_box

from .one_euro_filter import OneEuroFilter
from .track_loss_rule import TrackLossRule

#: FaceTracker's loss-rule settings (the geometric tests at TrackLossRule's defaults, plus the model-based ones).
DEFAULT_RULE = dict(max_shape_residual=0.35, max_occluded=0.7)
#: FaceTracker's smoothing when ``smoothing=True`` (OneEuroFilter arguments; chosen in README "Video").
DEFAULT_SMOOTHING = dict(min_cutoff=1.0, beta=20.0)

Detector = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray                   # (K, 2) the last unfiltered prediction, image pixels
    box: np.ndarray                         # (4,) its landmark box
    velocity: np.ndarray                    # (4,) the box change between the last two frames
    smoother: Optional[OneEuroFilter] = None
    age: int = 0
    missed: int = 0
    last: Dict = field(default_factory=dict)


class FaceTracker:
    """Track every face of a video (see the module docstring for one frame's steps).

    Args:
        model: a face model from :func:`mmfacealign.apis.load_aligner` / ``init_model`` (any head; with an
            occlusion output its probabilities are passed on), or an ORT aligner.
        detector: a detector name of :mod:`mmfacealign.apis.face_detectors` (its boxes mapped to landmark
            boxes by its calibration), a callable ``frame -> (F, 4)`` xyxy boxes, or None (new tracks only from
            the ``detections`` given to :meth:`step`). Default ``'default'`` (MTCNN).
        box_convention: what a callable detector's (and ``step``'s ``detections``) boxes are: ``'landmark'``
            (default; tight landmark boxes) or a detector name whose calibration maps them.
        redetect_interval (int): detect every this many frames (1: every frame). Default 10.
        match_iou (float): least IoU of a detection with a track's predicted box to continue that track (on a
            frame that detects anyway; a lost or doubtful track takes any overlap). Default 0.1.
        reanchor_iou (float): a matched track is cropped from its detection when their IoU is below this (1:
            always, 0: never). Default 0.6.
        redetect_occluded (float, optional): detect on this frame when a track's mean occlusion probability (a
            model with an occlusion output) exceeds this: its crop is sliding off the face. None: off. Default 0.4.
        duplicate_dist (float): a track whose landmarks lie within this mean distance (a share of the landmark
            box's diagonal) of an older track's ends: one track per face (two faces that cross are further apart
            than that even where their boxes overlap). Default 0.05.
        max_faces (int, optional): most tracks at once (the largest detections first). Default None.
        max_missed (int): detections in a row that match a track nothing before it ends. Default 3.
        rule (dict, optional): :class:`TrackLossRule` arguments. Default :data:`DEFAULT_RULE`.
        smoothing (dict | bool | None): :class:`OneEuroFilter` arguments for the output landmarks; True takes
            :data:`DEFAULT_SMOOTHING`; None / False: no smoothing. Default None.
        fps (float): frame rate, the time step of the smoothing when ``step`` gets no timestamp. Default 30.
        motion (bool): move predicted boxes by the track's last motion. Default True.
        min_face_size (int): the detector's least face size in pixels. Default 24.
    """

    def __init__(self, model, detector: Union[str, Detector, None] = 'default', box_convention: str = 'landmark',
                 redetect_interval: int = 10, match_iou: float = 0.1, reanchor_iou: float = 0.6,
                 redetect_occluded: Optional[float] = 0.4, duplicate_dist: float = 0.05,
                 max_faces: Optional[int] = None,
                 max_missed: int = 3, rule: Optional[dict] = None, smoothing: Union[dict, bool, None] = None,
                 fps: float = 30.0, motion: bool = True, min_face_size: int = 24):
        if redetect_interval < 1:
            raise ValueError(f'FaceTracker: redetect_interval must be >= 1, got {redetect_interval}')
        if not 0 <= match_iou <= 1:
            raise ValueError(f'FaceTracker: match_iou must be in [0, 1], got {match_iou}')
        if max_faces is not None and max_faces < 1:
            raise ValueError(f'FaceTracker: max_faces must be >= 1 or None, got {max_faces}')
        self.model = model
        self.detector_name = detector if isinstance(detector, str) else None
        if isinstance(detector, str):
            from .face_detectors import build_detector
            detector = build_detector(detector, min_size=min_face_size)
        self.detector = detector
        self.box_convention = box_convention
        self.redetect_interval = int(redetect_interval)
        self.match_iou = float(match_iou)
        if not 0 <= reanchor_iou <= 1:
            raise ValueError(f'FaceTracker: reanchor_iou must be in [0, 1], got {reanchor_iou}')
        self.reanchor_iou = float(reanchor_iou)
        self.redetect_occluded = redetect_occluded
        self.duplicate_dist = float(duplicate_dist)
        self.max_faces = max_faces
        self.max_missed = int(max_missed)
        self.rule = TrackLossRule(**(DEFAULT_RULE if rule is None else rule))
        if smoothing is True:
            smoothing = DEFAULT_SMOOTHING
        self.smoothing = dict(smoothing) if smoothing else None
        if self.smoothing is not None:
            OneEuroFilter(**self.smoothing, fps=fps)          # a bad setting fails here, not on the first face
        self.fps = float(fps)
        self.motion = motion
        self.reset()

    def reset(self) -> None:
        """Forget every track (the next frame detects; track ids go on increasing)."""
        self.tracks: List[_Track] = []
        self.frame_index = -1
        self.last_detection = None
        if not hasattr(self, 'next_id'):
            self.next_id = 0

    # ---------------------------------------------------------------------------------------------- pieces
    def detect(self, frame: np.ndarray) -> np.ndarray:
        """The detector's boxes on ``frame``, as landmark boxes (F, 4) float64 (largest first)."""
        if self.detector is None:
            return np.zeros((0, 4))
        boxes = np.asarray(self.detector(frame), np.float64).reshape(-1, 4)
        return self._landmark_boxes(boxes, self.detector_name)

    def _landmark_boxes(self, boxes: np.ndarray, detector_name: Optional[str]) -> np.ndarray:
        from .box_convention import to_landmark_box
        convention = detector_name or self.box_convention
        if len(boxes) == 0 or convention in (None, 'landmark'):
            return boxes
        return np.asarray(to_landmark_box(boxes, convention), np.float64).reshape(-1, 4)

    def predicted_box(self, track: _Track) -> np.ndarray:
        """The track's box for the current frame (step 1)."""
        return track.box + track.velocity if self.motion else track.box.copy()

    def associate(self, boxes: np.ndarray, detections: np.ndarray, min_iou: Optional[float] = None) -> Dict[int, int]:
        """``{box index: detection index}``: the assignment of largest total IoU between ``boxes`` (N, 4) and
        ``detections`` (M, 4), pairs below ``min_iou`` (default ``match_iou``) left out."""
        if len(boxes) == 0 or len(detections) == 0:
            return {}
        from scipy.optimize import linear_sum_assignment
        min_iou = self.match_iou if min_iou is None else min_iou
        iou = box_iou(boxes, detections)
        rows, cols = linear_sum_assignment(-iou)
        return {int(r): int(c) for r, c in zip(rows, cols) if iou[r, c] >= min_iou and iou[r, c] > 0}

    def _predict(self, frame: np.ndarray, boxes: List[np.ndarray]) -> List[dict]:
        from .image_inference import align_faces
        if not boxes:
            return []
        return align_faces(self.model, frame, bboxes=np.stack(boxes).astype(np.float32), box_convention='landmark')

    def _doubtful(self, face: dict) -> bool:
        occ = face.get('keypoints_occluded')
        return self.redetect_occluded is not None and occ is not None and float(np.mean(occ)) > self.redetect_occluded

    @staticmethod
    def _evidence(face: dict) -> dict:
        return dict(scores=face.get('keypoint_scores'), occluded=face.get('keypoints_occluded'))

    # ---------------------------------------------------------------------------------------------- step
    def step(self, frame: np.ndarray, detections: Optional[np.ndarray] = None, t: Optional[float] = None) -> Dict:
        """Track one BGR frame (H, W, 3). ``detections`` (F, 4) xyxy (in ``box_convention``) replace the
        detector on this frame; ``t`` is the frame's time in seconds (default ``frame_index / fps``).

        Returns:
            dict: ``frame_index``, ``detected`` (the detector ran on this frame), ``faces``: one dict per live
            track (``track_id``, ``keypoints`` (K, 2) the output (smoothed when smoothing is on),
            ``keypoints_raw`` (K, 2) the model's, ``keypoint_scores``, ``score``, ``bbox`` (4,) the landmark box
            the frame was cropped from, ``new`` (the track starts here), ``from_detection`` (cropped from a
            detection this frame), ``keypoints_occluded`` from a model with an occlusion output), and ``lost``:
            ``[{'track_id', 'reason'}]`` for the tracks that ended on this frame, ``recovered`` (the same for tracks
            that failed the rule and continued from a detection), ``time`` (seconds).
        """
        start = time.perf_counter()
        self.frame_index += 1
        t = self.frame_index / self.fps if t is None else float(t)
        boxes = [self.predicted_box(tr) for tr in self.tracks]
        from_det = [False] * len(self.tracks)
        lost: List[dict] = []
        new_boxes: List[np.ndarray] = []
        detected = False
        due = (self.last_detection is None or not self.tracks
               or self.frame_index - self.last_detection >= self.redetect_interval)
        if detections is not None or (due and self.detector is not None):
            dets = (self._landmark_boxes(np.asarray(detections, np.float64).reshape(-1, 4), None)
                    if detections is not None else self.detect(frame))
            detected, self.last_detection = True, self.frame_index
            new_boxes = self._assign(dets, boxes, from_det, lost)
        # step 3: one batch for the live tracks and the new ones
        faces = self._predict(frame, boxes + new_boxes)
        n = len(self.tracks)
        kept: Dict[int, tuple] = {}                    # track index -> (crop box, face, cropped from a detection)
        retry: List[int] = []                          # lost: a second chance from a detection
        doubt: List[int] = []                          # kept, but the model doubts its crop: detect now
        recovered: List[dict] = []
        for i, (tr, box, face) in enumerate(zip(self.tracks, boxes, faces)):
            reason = self.rule.check(face['keypoints'], frame.shape, prev_box=box, **self._evidence(face))
            if reason is None:
                kept[i] = (box, face, from_det[i])
                if not from_det[i] and self._doubtful(face):
                    doubt.append(i)
            else:
                retry.append(i)
                tr.last['reason'] = reason
        new = [(box, face) for box, face in zip(new_boxes, faces[n:])
               if self.rule.check(face['keypoints'], frame.shape, **self._evidence(face)) is None]
        if (retry or doubt) and not detected and self.detector is not None:   # step 4: detect now, re-associate
            dets = self.detect(frame)
            detected, self.last_detection = True, self.frame_index
            cand = retry + doubt
            # a lost or doubtful track has usually slid off its face: any overlap with a detection continues it
            match = self.associate(np.stack([boxes[i] for i in cand]), dets, min_iou=1e-6)
            again = [(cand[r], dets[c]) for r, c in match.items()
                     if cand[r] in retry or box_iou(boxes[cand[r]], dets[c])[0, 0] < self.reanchor_iou]
            # detections that continue no track and overlap no other one start tracks (a face after a cut)
            taken = [v[0] for v in kept.values()] + [b for b, _ in new]
            fresh = [d for j, d in enumerate(dets) if j not in set(match.values())
                     and (not taken or box_iou(d, np.stack(taken)).max() < self.match_iou)]
            room = None if self.max_faces is None else max(0, self.max_faces - len(kept) - len(new) - len(retry))
            fresh = fresh if room is None else fresh[:room]
            refaces = self._predict(frame, [b for _, b in again] + fresh)
            for (i, box), face in zip(again, refaces):
                reason = self.rule.check(face['keypoints'], frame.shape, **self._evidence(face))
                if reason is None:
                    if i in retry:
                        recovered.append(dict(track_id=self.tracks[i].track_id, reason=self.tracks[i].last['reason']))
                        retry.remove(i)
                    kept[i] = (box, face, True)
                elif i in retry:
                    self.tracks[i].last['reason'] += f'; from its detection: {reason}'
            new += [(box, face) for box, face in zip(fresh, refaces[len(again):])
                    if self.rule.check(face['keypoints'], frame.shape, **self._evidence(face)) is None]
        lost += [dict(track_id=self.tracks[i].track_id, reason=self.tracks[i].last['reason']) for i in retry]
        # one track per face: a track whose landmarks lie on an older one's ends
        entries = [(self.tracks[i], box, face, det, False) for i, (box, face, det) in sorted(kept.items())]
        entries += [(None, box, face, True, True) for box, face in new]
        kept_entries: List[tuple] = []
        for entry in entries:
            older = [e for e in kept_entries if _same_face(entry[2]['keypoints'], e[2]['keypoints'],
                                                           self.duplicate_dist)]
            if older:
                if entry[0] is not None:
                    other = older[0][0].track_id if older[0][0] is not None else 'a new one'
                    lost.append(dict(track_id=entry[0].track_id, reason=f'the same face as track {other}'))
                continue
            kept_entries.append(entry)
        kept = kept_entries
        # update the tracks and build the output
        tracks, out = [], []
        for tr, box, face, det, new in kept:
            kpts = np.asarray(face['keypoints'], np.float64)
            lbox = landmark_box(kpts)
            if tr is None:
                tr = _Track(self.next_id, kpts, lbox, np.zeros(4),
                            OneEuroFilter(**self.smoothing, fps=self.fps) if self.smoothing else None)
                self.next_id += 1
            else:
                # a re-anchored frame's box change is the drift corrected, not motion: start the motion afresh
                tr.velocity = np.zeros(4) if det else lbox - tr.box
                tr.keypoints, tr.box, tr.age = kpts, lbox, tr.age + 1
            tr.last = {}
            smoothed = tr.smoother(kpts, t) if tr.smoother is not None else kpts.copy()
            res = dict(track_id=tr.track_id, keypoints=smoothed, keypoints_raw=kpts,
                       keypoint_scores=np.asarray(face['keypoint_scores'], np.float64), score=face['score'],
                       bbox=np.asarray(box, np.float64), new=new, from_detection=det)
            if 'keypoints_occluded' in face:
                res['keypoints_occluded'] = np.asarray(face['keypoints_occluded'], np.float64)
            tracks.append(tr)
            out.append(res)
        order = np.argsort([r['track_id'] for r in out], kind='stable')
        self.tracks = [tracks[i] for i in order]
        return dict(frame_index=self.frame_index, detected=detected, faces=[out[i] for i in order], lost=lost,
                    recovered=recovered, time=time.perf_counter() - start)

    def _assign(self, dets: np.ndarray, boxes: List[np.ndarray], from_det: List[bool], lost: List[dict]):
        """Step 2: re-anchor matched tracks that drifted from their detections (in place in ``boxes``), count
        misses (ending a track after ``max_missed``) and return the boxes of new tracks."""
        match = self.associate(np.stack(boxes) if boxes else np.zeros((0, 4)), dets)
        ended = []
        for i, tr in enumerate(self.tracks):
            if i in match:
                tr.missed = 0
                if box_iou(boxes[i], dets[match[i]])[0, 0] < self.reanchor_iou:     # drifted: re-anchor
                    boxes[i], from_det[i] = dets[match[i]], True
            else:
                tr.missed += 1
                if tr.missed >= self.max_missed:
                    ended.append(i)
        for i in reversed(ended):
            lost.append(dict(track_id=self.tracks[i].track_id,
                             reason=f'no matching detection in {self.max_missed} detections'))
            del self.tracks[i], boxes[i], from_det[i]
        used = set(match.values())
        room = None if self.max_faces is None else max(0, self.max_faces - len(self.tracks))
        new = [d for j, d in enumerate(dets) if j not in used]
        new.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return new if room is None else new[:room]


def _same_face(a: np.ndarray, b: np.ndarray, dist: float) -> bool:
    """Whether landmarks ``a`` and ``b`` (K, 2) lie within ``dist`` x the diagonal of ``a``'s box of each other
    (mean over the landmarks)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    box = landmark_box(a)
    diagonal = float(np.hypot(box[2] - box[0], box[3] - box[1]))
    return diagonal > 0 and float(np.linalg.norm(a - b, axis=1).mean()) < dist * diagonal


def track_faces(model, frames: Iterable[np.ndarray], fps: float = 30.0, **kwargs) -> Iterator[Dict]:
    """Track every face through ``frames`` (BGR arrays) with a :class:`FaceTracker` built from ``kwargs``;
    yields :meth:`FaceTracker.step`'s dict per frame."""
    tracker = FaceTracker(model, fps=fps, **kwargs)
    for frame in frames:
        yield tracker.step(frame)


__all__ = ['DEFAULT_RULE', 'DEFAULT_SMOOTHING', 'FaceTracker', 'track_faces']
