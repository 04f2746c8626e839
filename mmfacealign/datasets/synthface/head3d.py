# Copyright (c) mmfacealign contributors. All rights reserved.
"""3-D head geometry of SynthFace's ``'3d'`` style: a 68-point shape lifted to 3-D, posed by yaw/pitch/roll, seen
by a pinhole camera, with the face contour following the visible silhouette.

Frames. The *head frame* is the template face frame of ``mean_shape.py`` extended by depth: x to the image's
right, y down, z towards the camera; the jaw is 2 units wide and the eye line is at y = -0.3. A pose rotates
head-frame points by ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (as :func:`shape_model.pose_shape`) into the *camera
frame*; the camera sits on the +z axis at ``distance`` units and projects ``(X, Y, Z)`` to
``(X, Y) * distance / (distance - Z)`` (focal length = distance, so points at depth 0 keep their scale).

Contour convention. The 300-W and WFLW annotators put the 17 (33) contour points on the *visible* outline of the
face: at large yaw the far-side points slide forward over the cheek to the silhouette instead of staying on the
hidden jaw line. We model each contour point as lying on a horizontal cross-section of the head, an ellipse in the
x-z plane through the point, ``x = a cos(phi), z = zc + b sin(phi)`` with ``a = |x_i|``, ``zc = z_i`` and
``b = front - z_i`` (so the frontal view sees the point on the outline, at ``phi = 0`` or ``pi``). In a pose
where the point's outward normal turns away from the camera (the far side), the point moves along its
cross-section to where the normal is perpendicular to the viewing direction (the silhouette); near-side points
stay where they are, on the jaw line, which stays visible (:func:`silhouette_contour`). Visibility is judged
along the optical axis (orthographic), a fair approximation at the camera distances SynthFace draws.

The head itself is an ellipsoid (:data:`HEAD_ELLIPSOID`) that gives per-pixel surface normals for shading, the
head outline for hair, and head-frame coordinates of every pixel (:func:`raycast_ellipsoid`).
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .shape_model import rotation_matrix

# Ellipsoid of the head in the head frame: centre (x, y, z) and semi-axes. Sides at x = +-1 (the jaw top), chin at
# y = 1, crown at y = -1.5, face front at z = 0.3 (the cheeks; the nose stands out to 0.55).
HEAD_ELLIPSOID = (np.array([0.0, -0.25, -0.45]), np.array([1.02, 1.25, 0.75]))
CONTOUR_FRONT = 0.3          # depth of the face front that the contour cross-sections reach (head frame)


@dataclass
class Camera:
    """Head pose (radians) and camera distance (head-frame units, the jaw is 2 units wide)."""
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 10.0

    @property
    def rotation(self) -> np.ndarray:
        """``R`` ``(3, 3)``: head frame to camera frame, ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
        return rotation_matrix(self.yaw, self.pitch, self.roll)

    def to_camera(self, pts: np.ndarray) -> np.ndarray:
        """Head-frame points ``(N, 3)`` to camera-frame points ``(N, 3)``."""
        return np.asarray(pts, np.float64) @ self.rotation.T

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Head-frame points ``(N, 3)`` to image-plane points ``(N, 2)`` (pinhole, focal length = distance)."""
        cam = self.to_camera(pts)
        depth = np.maximum(self.distance - cam[:, 2], 1e-3)
        return cam[:, :2] * (self.distance / depth)[:, None]


def lift_shape(shape: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """A template-frame shape ``(K, 2)`` with per-landmark depth ``(K,)`` as head-frame points ``(K, 3)``."""
    return np.concatenate([np.asarray(shape, np.float64), np.asarray(depth, np.float64)[:, None]], 1)


def remove_pose_modes(shape: np.ndarray, mean: np.ndarray, depth: np.ndarray, step: float = 0.05) -> np.ndarray:
    """Remove the in-shape yaw and pitch of a 2-D shape ``(K, 2)`` sampled from a real-shape model.

    Shapes fitted from photographs keep some head rotation in their modes (the similarity alignment removes
    roll only). Before a 3-D pose is applied, the shape's deviation from ``mean`` is projected off the two
    directions that a small yaw and a small pitch of the mean shape would move it along (both measured on the
    mean with its depth), so that the pose comes from the camera alone.
    """
    base = lift_shape(mean, depth)
    dirs = []
    for cam in (Camera(yaw=step, distance=1e6), Camera(pitch=step, distance=1e6)):
        d = (cam.project(base) - mean).reshape(-1)
        dirs.append(d / (np.linalg.norm(d) + 1e-12))
    q, _ = np.linalg.qr(np.stack(dirs, 1))
    dev = (np.asarray(shape, np.float64) - mean).reshape(-1)
    dev = dev - q @ (q.T @ dev)
    return mean + dev.reshape(mean.shape)


def silhouette_contour(pts: np.ndarray, rotation: np.ndarray, front: float = CONTOUR_FRONT,
                       min_half_width: float = 1e-3) -> np.ndarray:
    """Move far-side contour points ``(N, 3)`` (head frame) to the head's silhouette; see the module docstring.

    Each point's cross-section is ``x = a cos(phi), z = zc + b sin(phi)`` (``a = |x|``, ``zc = z``,
    ``b = max(front - z, 0.05)``); its outward normal ``(cos(phi) / a, 0, sin(phi) / b)`` faces the camera when
    ``(R n)_z > 0``. A point on the far side goes to ``tan(phi) = -R[2, 0] b / (R[2, 2] a)``, where ``(R n)_z = 0``.
    Points with ``|x| < min_half_width`` (the chin tip) are left alone. Returns the adjusted points ``(N, 3)``.
    """
    out = np.array(pts, np.float64, copy=True)
    x, z = out[:, 0], out[:, 2]
    a = np.abs(x)
    b = np.maximum(front - z, 0.05)
    r20, r22 = float(rotation[2, 0]), float(rotation[2, 2])
    ok = a > min_half_width
    right = ok & (x > 0) & (r20 < 0)       # frontal phi = 0; hidden when (R n)_z = r20 / a < 0
    left = ok & (x < 0) & (r20 > 0)        # frontal phi = pi; hidden when -r20 / a < 0
    hidden = right | left
    if hidden.any() and r22 > 1e-6:
        phi = np.arctan(-r20 * b[hidden] / (r22 * a[hidden]))
        phi = np.where(x[hidden] > 0, phi, np.pi + phi)
        out[hidden, 0] = a[hidden] * np.cos(phi)
        out[hidden, 2] = z[hidden] + b[hidden] * np.sin(phi)
    return out


def forehead_contour(jaw_top_left: np.ndarray, jaw_top_right: np.ndarray, height: float = 0.95,
                     n: int = 11) -> np.ndarray:
    """Hairline of the face region in the head frame ``(n, 3)``, from over jaw point 16 to over jaw point 0.

    A half-ellipse over the brows whose ends are the two jaw tops; its depth rises from the jaw tops' to 0.2 at
    the top of the forehead. The ends are excluded (they are the jaw points themselves).
    """
    c = (jaw_top_left + jaw_top_right) / 2
    half = np.linalg.norm((jaw_top_right - jaw_top_left)[:2]) / 2
    t = np.linspace(0.0, np.pi, n + 2)[1:-1]
    x = c[0] + half * np.cos(t)
    y = c[1] - height * half * np.sin(t)
    z = c[2] + (0.2 - c[2]) * np.sin(t) ** 0.7
    return np.stack([x, y, z], 1)


def ear_outline(side: int, n: int = 12) -> np.ndarray:
    """Outline of the ear on ``side`` (+1: image right, subject's left; -1: image left) in the head frame
    ``(n, 3)``: an ellipse in the y-z plane at the side of the head, from the eye line down to the nose base,
    its back rim standing out from the head."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    y = -0.12 + 0.28 * np.sin(t)
    z = -0.55 + 0.16 * np.cos(t)
    x = side * (0.95 + 0.16 * (1 - np.cos(t)) / 2)     # attached at the front edge, the rim stands out behind
    return np.stack([x, y, z], 1)


def ear_faces_camera(side: int, rotation: np.ndarray, margin: float = 0.25) -> bool:
    """Is the outward normal ``(side, 0, 0)`` of the ear at most ``margin`` (cosine) away from the camera?"""
    return float(rotation[2, 0] * side) > -margin


def head_outline(camera: Camera, n: int = 48) -> np.ndarray:
    """Image-plane outline of :data:`HEAD_ELLIPSOID` ``(M, 2)``: the convex hull of its projected surface."""
    import cv2
    c, ax = HEAD_ELLIPSOID
    u = np.linspace(0, 2 * np.pi, n, endpoint=False)
    v = np.linspace(-np.pi / 2, np.pi / 2, n // 3 + 2)
    uu, vv = np.meshgrid(u, v)
    pts = np.stack([np.cos(vv) * np.cos(uu), np.sin(vv), np.cos(vv) * np.sin(uu)], -1).reshape(-1, 3) * ax + c
    proj = camera.project(pts).astype(np.float32)
    return cv2.convexHull(proj).reshape(-1, 2).astype(np.float64)


def raycast_ellipsoid(xs: np.ndarray, ys: np.ndarray, rotation: np.ndarray,
                      ellipsoid: Tuple[np.ndarray, np.ndarray] = HEAD_ELLIPSOID
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cast rays along the optical axis through image-plane points (camera units) onto the head ellipsoid.

    Args:
        xs, ys: ``(H, W)`` camera-frame x and y of each pixel.
        rotation: head-to-camera rotation ``(3, 3)``.

    Returns:
        ``hit`` ``(H, W)`` bool, unit normals in the camera frame ``(H, W, 3)`` (for a miss: the normal of the
        nearest silhouette point, grazing) and head-frame coordinates of the surface point ``(H, W, 3)``.
    """
    c, ax = ellipsoid
    cc = rotation @ c
    m = rotation @ np.diag(1.0 / ax**2) @ rotation.T
    wx, wy = xs - cc[0], ys - cc[1]
    # (wx, wy, t)^T M (wx, wy, t) = 1, quadratic in t (depth relative to the centre)
    qa = m[2, 2]
    qb = 2 * (m[0, 2] * wx + m[1, 2] * wy)
    qc = m[0, 0] * wx * wx + 2 * m[0, 1] * wx * wy + m[1, 1] * wy * wy - 1.0
    disc = qb * qb - 4 * qa * qc
    hit = disc >= 0
    t = (-qb + np.sqrt(np.maximum(disc, 0))) / (2 * qa)      # the root nearer the camera (+z)
    w = np.stack([wx, wy, t], -1)
    normal = w @ m.T
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-12
    head = w @ rotation + c      # R^T w + c: the surface point in the head frame
    return hit, normal, head
