"""Turn any digit picture into what MNIST's digits look like.

MNIST's recipe (LeCun et al.): grayscale, light ink on a dark background, the ink
fitted into a 20x20 box keeping its aspect ratio, then placed in 28x28 so that
its centre of mass is at the centre.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageOps


class ImageError(ValueError):
    """A file that cannot be read as a digit picture."""


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for unreadable files
        raise ImageError(f"{path} is not a readable image: {exc}") from None


def prepare_digit(image: Image.Image | np.ndarray) -> torch.Tensor:
    """Return a uint8 [28, 28] tensor, light ink on black, the ink centred as in MNIST."""
    if isinstance(image, np.ndarray):
        pixels = image.astype(np.float32)
    else:
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            # transparent areas count as background: flatten onto white
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image.convert("RGBA"))
        pixels = np.asarray(ImageOps.grayscale(image), dtype=np.float32)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ImageError("expected a 2-D grayscale picture")
    # dark-on-light (the border is bright) is inverted to MNIST's light-on-dark
    if np.median(_border(pixels)) > 127:
        pixels = 255 - pixels
    pixels = np.clip(pixels - np.median(_border(pixels)), 0, None)  # background to 0
    peak = pixels.max()
    if peak <= 0:
        return torch.zeros(28, 28, dtype=torch.uint8)
    pixels = pixels * (255.0 / peak)
    ink = pixels > 0.1 * 255
    rows, cols = np.nonzero(ink)
    crop = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    factor = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * factor)), max(1, round(w * factor))
    resized = np.asarray(
        Image.fromarray(crop.astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS), dtype=np.float32
    )
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    total = canvas.sum()
    if total > 0:
        ys, xs = np.indices(canvas.shape)
        dy = int(round(13.5 - (ys * canvas).sum() / total))
        dx = int(round(13.5 - (xs * canvas).sum() / total))
        canvas = _shift(canvas, dy, dx)
    return torch.from_numpy(np.clip(canvas, 0, 255).round().astype(np.uint8))


def _border(pixels: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def _shift(canvas: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift without wrapping; ink pushed past the edge is dropped."""
    out = np.zeros_like(canvas)
    h, w = canvas.shape
    src_y, dst_y = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
    src_x, dst_x = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
    out[dst_y, dst_x] = canvas[src_y, src_x]
    return out
