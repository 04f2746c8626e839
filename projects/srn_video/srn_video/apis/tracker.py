# Copyright (c) mmfacealign contributors. All rights reserved.
"""Occlusion-robust face tracking with SRN: the RNN hidden state carried from frame to frame (SRN Eq. 13).

Zhu et al., Pattern Recognition 2022, Sec. 3.2 ("Tracker") / Eq. 13: in video mode SRN only re-tasks its
RNN memory; the hidden state ``h`` of frame ``t`` is computed from the frame's patch features and ``h`` of frame
``t - 1``. The initial shape and the number of cascade iterations stay as for images.

One frame (:meth:`SRNTracker.step`):

1. **Face box.** Frame ``t > 0`` of a running track is cropped around the *landmark box* of the previous frame's
   prediction (its tight xyxy box; the model's test pipeline pads it by ``GetBBoxCenterScale``'s ``padding``, as
   it pads the landmark boxes the model was trained on, and ``TopdownAffine`` makes it the input's aspect ratio).
   A new track (the first frame, after a loss, after :meth:`SRNTracker.reset`) takes its box, in this order, from
   the ``bbox`` passed to :meth:`~SRNTracker.step`, the ``detector`` (its first box; ``demo/image_demo.py``'s
   ``detect_faces`` returns the largest face first), the tracker's ``bbox`` argument, or the whole frame (MMPose's
   ``inference_topdown`` rule).
2. **Crop.** The model's own test pipeline (``LoadImage``, ``GetBBoxCenterScale``, ``TopdownAffine``,
   ``PackPoseInputs`` from ``model.cfg``, through :func:`mmfacealign.apis.inference_config`), then
   ``model.data_preprocessor``.
3. **Cascade.** ``SRNHead.forward_iterations(feats, hidden=h_{t-1}, initial=x_0, return_hidden=True)``: ``T``
   iterations as for images; ``h`` enters the first iteration and the final ``h`` is kept for the next frame
   (``None``, i.e. zeros, on a new track). ``x_0``: ``init='mean'`` (the paper's, default) the head's mean shape
   in the face box; ``init='previous'`` the previous frame's prediction mapped into the current crop (the mean
   shape on a new track).
4. **Decode.** The head's codec (``head.decode``) and MMPose's ``TopdownPoseEstimator.add_pred_to_datasample``
   (input pixels -> image pixels with the crop's centre and scale), as ``inference_topdown`` does. No flip test
   is applied while tracking (it would need a second hidden state for the mirrored face), whatever the config's
   ``test_cfg.flip_test`` says.

**Re-initialisation rule** (:class:`mmfacealign.apis.track_loss_rule.TrackLossRule`, configurable; here with
its geometric tests only, the defaults). Let ``B_t`` be the tight landmark box of the
prediction of frame ``t`` and ``B_{t-1}`` the box frame ``t`` was cropped from (the previous prediction's
landmark box). The prediction of a *tracked* frame is **lost** when any of

* a predicted coordinate is not finite;
* ``B_t``'s shorter side is below ``min_size`` pixels;
* more than ``max_outside`` of ``B_t``'s area lies outside the image;
* ``sqrt(area(B_t) / area(B_{t-1}))`` exceeds ``max_scale_change`` or is below ``1 / max_scale_change``;
* ``IoU(B_t, B_{t-1}) < min_iou``.

Then the hidden state and the previous shape are reset and the *same frame* is predicted again as a new track
(box from step 1's new-track sources, ``h = None``, mean shape); that frame's result reports ``lost=True`` and
``reinitialised=True``. A new track's prediction is checked with the first three tests only (its box came from a
detector or the user, which need not be a landmark box): when it fails them too, or the detector finds no face,
the frame reports ``valid=False`` and the next frame starts a new track again.

Per-frame result (a dict): ``keypoints`` (N, 2) float64 image pixels (NaN when no box was found), ``bbox`` (4, )
xyxy the face box the final prediction was cropped from (before padding; None when no box was found),
``lost``, ``reinitialised``, ``valid`` (the next frame continues from this one), ``reason`` (why the frame was
lost, or None), ``time_model`` (seconds in the data preprocessor, feature extraction and head), ``time_total``
(seconds for the whole step, pipeline and decoding included).
"""
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from torch import nn

from mmfacealign.apis import inference_config
from mmfacealign.apis.track_loss_rule import TrackLossRule, outside_share  # noqa: F401 (re-exported)
from mmfacealign.models.heads.srn_head import SRNHead
from mmfacealign.utils.boxes import box_iou, landmark_box  # noqa: F401 (re-exported)

INIT_MODES = ('mean', 'previous')

Detector = Callable[[np.ndarray], np.ndarray]


class SRNTracker:
    """Track one face through a video with an SRN model, carrying the RNN state across frames (Eq. 13).

    See the module docstring for the per-frame procedure, the face box, the re-initialisation rule and the result
    fields.

    Args:
        model (nn.Module): an MMPose ``TopdownPoseEstimator`` whose head is mmfacealign's ``SRNHead``, with
            ``model.cfg`` (e.g. from :func:`mmfacealign.apis.init_model`) and a mean shape set (a trained
            checkpoint has it).
        init (str): the initial shape of every frame: ``'mean'`` (the paper's, default) or ``'previous'``.
        reinit (dict, optional): :class:`TrackLossRule` arguments. Default: its defaults.
        detector (callable, optional): ``frame (H, W, 3) BGR -> boxes (F, 4) xyxy``, best first; used to start
            a new track. Default None.
        bbox (sequence, optional): xyxy box of a new track when neither :meth:`step` nor the detector gives one.
            Default None: the whole frame.
        device (str, optional): move the model there. Default None: where the model is.
    """

    def __init__(self, model: nn.Module, init: str = 'mean', reinit: Optional[dict] = None,
                 detector: Optional[Detector] = None, bbox: Optional[Sequence[float]] = None,
                 device: Optional[Union[str, torch.device]] = None):
        head = getattr(model, 'head', None)
        if not isinstance(head, SRNHead):
            cfg = getattr(model, 'cfg', None)
            where = f' (config {cfg.filename})' if getattr(cfg, 'filename', None) else ''
            raise TypeError(f'SRNTracker: the model head must be SRNHead, got {type(head).__name__}{where}')
        if init not in INIT_MODES:
            raise ValueError(f'SRNTracker: init must be one of {INIT_MODES}, got {init!r}')
        if not hasattr(model, 'cfg'):
            raise ValueError('SRNTracker: the model has no cfg (build it with mmfacealign.apis.init_model)')
        if device is not None:
            model.to(device)
        self.model = model.eval()
        self.head: SRNHead = head
        self.init = init
        self.rule = TrackLossRule(**(reinit or {}))
        self.detector = detector
        self.default_bbox = None if bbox is None else self._as_box(bbox, 'bbox')
        cfg = inference_config(model.cfg)
        scope = cfg.get('default_scope', 'mmpose')
        if scope is not None:
            init_default_scope(scope)
        self.pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
        self.dataset_meta = dict(getattr(model, 'dataset_meta', None) or {})
        self.reset()

    # ------------------------------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget the track: the next frame starts a new one (hidden state None, box from a new-track source)."""
        self.hidden: Optional[torch.Tensor] = None
        self.prev_keypoints: Optional[np.ndarray] = None
        self.prev_box: Optional[np.ndarray] = None

    @property
    def tracking(self) -> bool:
        """Whether the next frame continues a track."""
        return self.prev_box is not None

    @staticmethod
    def _as_box(box, what: str) -> np.ndarray:
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.shape != (4, ) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f'SRNTracker: {what} must be a finite xyxy box with x2 > x1 and y2 > y1, got {box}')
        return box

    def new_track_box(self, frame: np.ndarray) -> Optional[np.ndarray]:
        """The box of a new track: the detector's first box, else the tracker's ``bbox``, else the whole frame;
        None when the detector finds no face."""
        if self.detector is not None:
            boxes = np.asarray(self.detector(frame), dtype=np.float64).reshape(-1, 4)
            return self._as_box(boxes[0], 'the detector box') if len(boxes) else None
        if self.default_bbox is not None:
            return self.default_bbox
        h, w = frame.shape[:2]
        return np.array([0.0, 0.0, w, h])

    # ------------------------------------------------------------------------------------------------- model
    @torch.no_grad()
    def predict(self, frame: np.ndarray, box: np.ndarray, hidden: Optional[torch.Tensor] = None,
                prev_keypoints: Optional[np.ndarray] = None):
        """One frame from ``box`` (xyxy) with ``hidden`` (1, H) and, for ``init='previous'``, the previous
        keypoints (N, 2) in image pixels. Returns ``(keypoints (N, 2) image pixels, hidden, model seconds)``."""
        data = dict(img=frame, bbox=np.asarray(box, np.float32)[None], bbox_score=np.ones(1, np.float32))
        data.update(self.dataset_meta)
        batch = pseudo_collate([self.pipeline(data)])
        sample_meta = batch['data_samples'][0].metainfo
        initial = None
        if self.init == 'previous' and prev_keypoints is not None:
            centre = np.asarray(sample_meta['input_center'], np.float64)
            scale = np.asarray(sample_meta['input_scale'], np.float64)
            initial = torch.as_tensor((prev_keypoints - centre + 0.5 * scale) / scale, dtype=torch.float32)[None]
        start = time.perf_counter()
        data = self.model.data_preprocessor(batch, False)
        feats = self.model.extract_feat(data['inputs'])
        if initial is not None:
            initial = initial.to(data['inputs'].device)
        shapes, hidden = self.head.forward_iterations(feats, hidden=hidden, initial=initial, return_hidden=True)
        if shapes.is_cuda:
            torch.cuda.synchronize(shapes.device)
        model_time = time.perf_counter() - start
        preds = self.head.decode(shapes[:, -1:].float())              # (1, 1, N, 2) -> input pixels
        samples = self.model.add_pred_to_datasample(preds, None, data['data_samples'])   # -> image pixels
        keypoints = np.asarray(samples[0].pred_instances.keypoints[0], dtype=np.float64)
        return keypoints, hidden, model_time

    def step(self, frame: np.ndarray, bbox: Optional[Sequence[float]] = None) -> Dict:
        """Track one BGR frame (H, W, 3). A given ``bbox`` (xyxy) starts a new track from it (state reset).
        Returns the per-frame dict of the module docstring."""
        start = time.perf_counter()
        if bbox is not None:
            bbox = self._as_box(bbox, 'bbox')
            self.reset()
        lost, reason, model_time = False, None, 0.0
        if self.tracking:
            box = self.prev_box
            keypoints, hidden, t = self.predict(frame, box, self.hidden, self.prev_keypoints)
            model_time += t
            reason = self.rule.check(keypoints, frame.shape, prev_box=box)
            if reason is None:
                self._keep(keypoints, hidden)
                return self._result(keypoints, box, False, False, True, None, model_time, start)
            lost = True
            self.reset()
        box = bbox if bbox is not None else self.new_track_box(frame)
        if box is None:
            nan = np.full((self.head.num_joints, 2), np.nan)
            return self._result(nan, None, True, False, False, reason or 'no face detected', model_time, start)
        keypoints, hidden, t = self.predict(frame, box)
        model_time += t
        new_reason = self.rule.check(keypoints, frame.shape)
        if new_reason is None:
            self._keep(keypoints, hidden)
        else:
            lost, reason = True, (f'{reason}; ' if reason else '') + f'new track: {new_reason}'
        return self._result(keypoints, box, lost, True, new_reason is None, reason, model_time, start)

    def _keep(self, keypoints: np.ndarray, hidden: Optional[torch.Tensor]) -> None:
        self.hidden, self.prev_keypoints, self.prev_box = hidden, keypoints, landmark_box(keypoints)

    @staticmethod
    def _result(keypoints, box, lost, reinitialised, valid, reason, model_time, start) -> Dict:
        return dict(keypoints=keypoints, bbox=None if box is None else np.asarray(box, np.float64).copy(),
                    lost=bool(lost), reinitialised=bool(reinitialised), valid=bool(valid), reason=reason,
                    time_model=model_time, time_total=time.perf_counter() - start)


def track_video(model: nn.Module, frames: Iterable[np.ndarray], bbox: Optional[Sequence[float]] = None,
                detector: Optional[Detector] = None, init: str = 'mean', reinit: Optional[dict] = None,
                device: Optional[str] = None, progress: Optional[Callable[[Dict], None]] = None) -> List[Dict]:
    """Track one face through ``frames`` (BGR arrays) with :class:`SRNTracker` (SRN Eq. 13).

    The first frame starts from ``bbox`` (xyxy) when given, else from the ``detector``'s first box, else the
    whole frame; a later new track (after a loss) from the detector, else ``bbox``, else the whole frame.

    Returns:
        list of dict: per frame, :class:`SRNTracker.step`'s dict plus ``frame_index``. ``progress`` (optional) is
        called with each frame's dict as it is made.
    """
    tracker = SRNTracker(model, init=init, reinit=reinit, detector=detector, bbox=bbox, device=device)
    results = []
    for index, frame in enumerate(frames):
        result = dict(frame_index=index, **tracker.step(frame, bbox=bbox if index == 0 else None))
        results.append(result)
        if progress is not None:
            progress(result)
    return results

