"""Blending one face into a frame: soft masks, self-blending and face swapping (numpy + OpenCV).

One implementation, two callers: `synth` builds the demo FAKE clips with it, and the training
pipeline turns REAL face crops into self-blended FAKEs on the fly with `self_blend_crop`.
Every function changes pixels only where the mask is above zero, so a fake differs from its
original inside the face and nowhere else.

Points are five MTCNN-style landmarks in full-frame pixels, image-left first:
left_eye, right_eye, nose, mouth_left, mouth_right (float, shape (5, 2), x then y).
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_detection.config import ExtractConfig

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in px

# Face ellipse from five landmarks: half-width per eye distance, half-height per eye-to-mouth
# distance (measured on MTCNN boxes of frontal faces: box width ~ 2 eye distances, box height
# ~ 2.6 eye-to-mouth distances).
HALF_WIDTH_PER_EYE_DISTANCE = 0.95
HALF_HEIGHT_PER_EYE_MOUTH = 1.3
# A face in a centred crop is a little taller than wide.
CROP_FACE_ASPECT = 0.8  # width / height


def face_ellipse(box: Box | None, landmarks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre (x, y), semi-axes (a, b) in px and tilt in degrees of the face, from landmarks or its box."""
    if landmarks is None:
        if box is None:
            raise ValueError("face_ellipse needs a box or landmarks")
        x1, y1, x2, y2 = box
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2]), np.array([(x2 - x1) / 2, (y2 - y1) / 2]), 0.0
    points = np.asarray(landmarks, dtype=np.float64)
    eye_mid = (points[0] + points[1]) / 2
    mouth_mid = (points[3] + points[4]) / 2
    eye_vector = points[1] - points[0]
    angle = float(np.degrees(np.arctan2(eye_vector[1], eye_vector[0])))
    axes = np.array([HALF_WIDTH_PER_EYE_DISTANCE * np.linalg.norm(eye_vector),
                     HALF_HEIGHT_PER_EYE_MOUTH * np.linalg.norm(mouth_mid - eye_mid)])
    return (eye_mid + mouth_mid) / 2, axes, angle


def _mask_roi(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
    """Bounding rectangle (x0, y0, x1, y1) of mask > 0, grown by pad and clipped; None if empty."""
    x, y, w, h = cv2.boundingRect((mask > 0).astype(np.uint8))
    if w == 0 or h == 0:
        return None
    height, width = mask.shape[:2]
    return max(0, x - pad), max(0, y - pad), min(width, x + w + pad), min(height, y + h + pad)


def soft_face_mask(height: int, width: int, box: Box, rng: np.random.Generator,
                   landmarks: np.ndarray | None = None) -> np.ndarray:
    """Soft convex face mask (float32 HxW in [0, 1]) with a randomised outline and feather width.

    The outline is the face ellipse (from landmarks when given, else the box) with jittered
    axes, centre and per-vertex radius, made convex; the edge is feathered by a Gaussian blur.
    Random draws happen in a fixed order, so one seed gives the same outline relative to the face.
    """
    centre, axes, angle = face_ellipse(box, landmarks)
    axes = axes * rng.uniform(0.85, 1.05, size=2)
    centre = centre + rng.uniform(-0.05, 0.05, size=2) * axes
    n_vertices = 24
    radii = rng.uniform(0.93, 1.05, size=n_vertices)
    feather = rng.uniform(0.06, 0.16)  # blur sigma as a fraction of the smaller semi-axis

    t = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    local = np.stack([axes[0] * radii * np.cos(t), axes[1] * radii * np.sin(t)], axis=1)
    theta = np.radians(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    vertices = local @ rotation.T + centre
    hull = cv2.convexHull(np.round(vertices).astype(np.int32))

    mask = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    sigma = max(1.0, feather * float(axes.min()))
    ksize = 2 * int(3 * sigma) + 1
    roi = _mask_roi(mask, pad=ksize)
    if roi is None:  # the face lies entirely outside the frame
        return mask
    x0, y0, x1, y1 = roi
    mask[y0:y1, x0:x1] = cv2.GaussianBlur(mask[y0:y1, x0:x1], (ksize, ksize), sigma)
    return mask


def _perturbed(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour-, sharpness- and slightly geometry-changed copy of a region (float32 HxWx3, 0-255)."""
    gains = rng.uniform(0.88, 1.12, size=3)
    shifts = rng.uniform(-18.0, 18.0, size=3)
    contrast = rng.uniform(0.85, 1.15)
    sharpen = rng.random() < 0.5
    detail_sigma = rng.uniform(0.8, 1.8)
    detail_amount = rng.uniform(0.6, 1.2)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, size=2)

    out = region.astype(np.float32)
    mean = out.reshape(-1, 3).mean(axis=0)
    out = (out - mean) * contrast + mean
    out = out * gains.astype(np.float32) + shifts.astype(np.float32)
    blurred = cv2.GaussianBlur(out, (0, 0), detail_sigma)
    out = out + detail_amount * (out - blurred) if sharpen else blurred
    height, width = out.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
    matrix[:, 2] += shift * (width, height)
    return cv2.warpAffine(out, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blend a perturbed copy of the image back onto itself through the mask (uint8, same shape).

    image: RGB uint8 HxWx3; mask: float32 HxW in [0, 1]. The copy gets a colour, contrast,
    blur-or-sharpen and slight scale/shift change, so only blending-boundary artefacts remain
    (the self-blended images method). Pixels where mask == 0 are returned unchanged.
    """
    ratio = rng.uniform(0.7, 1.0)  # blend ratio: how much of the copy shows inside the mask
    roi = _mask_roi(mask)
    if roi is None:
        return image.copy()
    x0, y0, x1, y1 = roi
    region = image[y0:y1, x0:x1]
    source = _perturbed(region, rng)
    alpha = (mask[y0:y1, x0:x1] * ratio)[..., None]
    blended = source * alpha + region.astype(np.float32) * (1.0 - alpha)
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


def self_blend_crop(crop: np.ndarray, rng: np.random.Generator,
                    margin: float = ExtractConfig.margin) -> np.ndarray:
    """Self-blended FAKE version of a centred face crop (uint8 HxWx3 -> uint8 HxWx3).

    The face is assumed centred with `margin` of its size added on each side, as `faces.crop_face`
    cuts it; the mask is a jittered soft ellipse over that face box.
    """
    height, width = crop.shape[:2]
    face_h = min(height, width) / (1 + 2 * margin)
    face_w = CROP_FACE_ASPECT * face_h
    cx, cy = width / 2, height / 2 + 0.05 * face_h * rng.uniform(-1.0, 1.0)
    box = (cx - face_w / 2, cy - face_h / 2, cx + face_w / 2, cy + face_h / 2)
    mask = soft_face_mask(height, width, box, rng)
    return self_blend(crop, mask, rng)


def similarity_transform(source_points: np.ndarray, target_points: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation (2x3) taking source to target points."""
    src = np.asarray(source_points, np.float64)
    dst = np.asarray(target_points, np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])  # no reflections
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / src_c.var(axis=0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def colour_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Source recoloured to the target's Lab mean and spread inside the mask (uint8 HxWx3, Reinhard)."""
    weights = (mask > 0.5).reshape(-1)
    if not weights.any():
        return source.copy()
    src_lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    dst_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    src_pixels = src_lab.reshape(-1, 3)[weights]
    dst_pixels = dst_lab.reshape(-1, 3)[weights]
    src_mean, src_std = src_pixels.mean(axis=0), src_pixels.std(axis=0) + 1e-3
    dst_mean, dst_std = dst_pixels.mean(axis=0), dst_pixels.std(axis=0) + 1e-3
    recoloured = (src_lab - src_mean) * (dst_std / src_std) + dst_mean
    return cv2.cvtColor(np.clip(recoloured, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def swap_face(target: np.ndarray, target_points: np.ndarray, source: np.ndarray, source_points: np.ndarray,
              mask: np.ndarray, seamless: bool = True) -> np.ndarray:
    """Another identity's face warped onto the target face and blended through the mask (uint8 HxWx3).

    target, source: RGB uint8 images; *_points: (5, 2) landmarks of each face; mask: float32
    HxW on the target. The source is aligned by a similarity transform on the landmarks,
    recoloured to the target skin (Lab colour transfer), Poisson-blended (`seamless`) or not,
    then alpha-blended through the soft mask, so pixels where mask == 0 stay unchanged.
    """
    roi = _mask_roi(mask, pad=4)
    if roi is None:
        return target.copy()
    x0, y0, x1, y1 = roi
    matrix = similarity_transform(source_points, target_points)
    matrix[:, 2] -= (x0, y0)
    region = target[y0:y1, x0:x1]
    alpha = mask[y0:y1, x0:x1]
    warped = cv2.warpAffine(source, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    warped = colour_transfer(warped, region, alpha)
    if seamless:
        hard = np.where(alpha > 0.02, 255, 0).astype(np.uint8)
        hard[:2, :] = hard[-2:, :] = 0  # Poisson blending needs a border outside the mask
        hard[:, :2] = hard[:, -2:] = 0
        bx, by, bw, bh = cv2.boundingRect(hard)
        if bw > 2 and bh > 2:
            warped = cv2.seamlessClone(warped, region, hard, (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE)
    a = alpha[..., None]
    blended = warped.astype(np.float32) * a + region.astype(np.float32) * (1.0 - a)
    out = target.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
