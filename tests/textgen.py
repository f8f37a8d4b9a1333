"""Test helper: rendered text, plates and text-free scenes. Not a test module."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[float, float, float, float]


def font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in scalable font (no font file needed)."""
    return ImageFont.load_default(size=size)


def textured(h: int, w: int, seed: int = 0, mean: float = 110, spread: float = 35) -> np.ndarray:
    """A smooth, mottled RGB background (a car body or a wall seen up close)."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (h // 8 + 2, w // 8 + 2, 3))
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = mean + spread * smooth + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_text(img: np.ndarray, text: str, xy: tuple[int, int], size: int,
              colour=(20, 20, 30)) -> Box:
    """Draws text with its top-left ink corner at xy; returns the ink's box."""
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    f = font(size)
    left, top, right, bottom = d.textbbox((0, 0), text, font=f)
    d.text((xy[0] - left, xy[1] - top), text, fill=colour, font=f)
    img[:] = np.asarray(pil)
    return (float(xy[0]), float(xy[1]), float(xy[0] + right - left), float(xy[1] + bottom - top))


def plate_image(text: str, width: int) -> np.ndarray:
    """A plate: off-white rectangle, dark border, dark characters filling ~60% of its height."""
    h = round(width * 0.3)
    img = Image.new("RGB", (width, h), (245, 245, 240))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, width - 1, h - 1], outline=(20, 20, 30), width=max(2, width // 60))
    f = font(round(h * 0.62))
    left, top, right, bottom = d.textbbox((0, 0), text, font=f)
    d.text(((width - (right - left)) / 2 - left, (h - (bottom - top)) / 2 - top), text,
           fill=(15, 15, 40), font=f)
    return np.asarray(img)


def paste_rotated(img: np.ndarray, patch: np.ndarray, x: int, y: int, angle: float) -> Box:
    """Pastes `patch` with its top-left at (x, y), turned by `angle` degrees about its centre;
    returns the axis-aligned box around the pasted patch."""
    h, w = img.shape[:2]
    ph, pw = patch.shape[:2]
    m = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
    m[:, 2] += (x, y)
    layer = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), m, (w, h),
                           flags=cv2.INTER_LINEAR)[..., None] / 255.0
    img[:] = (img * (1 - alpha) + layer * alpha).astype(np.uint8)
    corners = cv2.transform(np.array([[[0, 0], [pw, 0], [pw, ph], [0, ph]]], np.float32), m)[0]
    return (*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist())


def plate_scene(text: str = "ABC 1234", width: int = 160, angle: float = 0.0,
                size: tuple[int, int] = (480, 640), xy: tuple[int, int] = (250, 200),
                seed: int = 0) -> tuple[np.ndarray, Box]:
    """A textured (H, W) = `size` frame with one plate; returns it and the plate's box."""
    img = textured(*size, seed=seed)
    box = paste_rotated(img, plate_image(text, width), xy[0], xy[1], angle)
    return img, box


def text_free_scene(size: tuple[int, int] = (480, 640), seed: int = 3) -> np.ndarray:
    """Rectangles, circles and lines on a textured background: edges, but no characters."""
    rng = np.random.default_rng(seed)
    img = textured(*size, seed=seed)
    h, w = size
    for _ in range(12):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x1, y1 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.rectangle(img, (x1, y1), (x1 + int(rng.integers(30, 200)),
                                          y1 + int(rng.integers(30, 120))), c, -1)
        elif kind == 1:
            cv2.circle(img, (x1, y1), int(rng.integers(10, 60)), c, -1)
        else:
            cv2.line(img, (x1, y1), (int(rng.integers(0, w)), int(rng.integers(0, h))), c, 3)
    return img


def covered(boxes: np.ndarray, target: Box) -> float:
    """Share of the target box's pixels inside the union of `boxes` (xyxy rows)."""
    x1, y1, x2, y2 = (round(v) for v in target)
    w, h = max(x2, 1), max(y2, 1)
    mask = np.zeros((h, w), bool)
    for b in np.asarray(boxes).reshape(-1, 4):
        bx1, by1 = max(0, int(np.floor(b[0]))), max(0, int(np.floor(b[1])))
        mask[by1:int(np.ceil(b[3])), bx1:int(np.ceil(b[2]))] = True
    return float(mask[y1:y2, x1:x2].mean())


def skewed_plate_scene(text: str = "KD 4471", width: int = 180, angle: float = 50.0,
                       squash: float = 0.6, size: tuple[int, int] = (480, 640),
                       centre: tuple[int, int] = (330, 240),
                       blur: float = 1.2) -> tuple[np.ndarray, Box]:
    """A plate as a wide-angle lens shows it on a dark car: foreshortened to `squash` of its
    width (seen from the side), turned by `angle` degrees, slightly blurred. Returns the frame
    and the plate's box."""
    img = textured(*size, seed=11, mean=45, spread=10)
    patch = plate_image(text, width)
    ph, pw = patch.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    # The far edge is shorter than the near one: a perspective, not just a squeeze.
    sw = pw * squash
    dst = np.array([[0, 0], [sw, 0.1 * ph], [sw, 0.9 * ph], [0, ph]], np.float32)
    rot = cv2.getRotationMatrix2D((sw / 2, ph / 2), angle, 1.0)
    dst = cv2.transform(dst[None], rot)[0] + (np.array(centre) - [sw / 2, ph / 2])
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    h, w = size
    layer = cv2.warpPerspective(patch, m, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))[..., None] / 255.0
    img[:] = (img * (1 - alpha) + layer * alpha).astype(np.uint8)
    if blur:
        img[:] = cv2.GaussianBlur(img, (0, 0), blur)
    return img, (*dst.min(axis=0).tolist(), *dst.max(axis=0).tolist())


def timestamp_scene(stamp: str = "2009-03-12 12:34:56", size: tuple[int, int] = (360, 640),
                    seed: int = 2) -> tuple[np.ndarray, Box]:
    """A camera frame with a burned-in date and clock (white on a dark strip, top left)."""
    img = textured(*size, seed=seed)
    img[8:52, 8:420] = (25, 25, 25)
    box = draw_text(img, stamp, (16, 16), 26, colour=(245, 245, 245))
    return img, box
