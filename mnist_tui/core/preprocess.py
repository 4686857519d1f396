"""Turn any digit picture into what MNIST's digits look like.

MNIST's recipe (LeCun et al.): grayscale, light ink on a dark background, the ink
fitted into a 20x20 box keeping its aspect ratio, then placed in 28x28 so that
its centre of mass is at the centre.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps

from .data_files import FILE_KINDS  # (the kinds of file that are no file of bytes)


class ImageError(ValueError):
    """A file that cannot be read as a digit picture."""


class NoDigit(ImageError):
    """A picture with no ink on it: blank, one flat colour, or too small to hold a stroke."""


# Pictures are decoded at most this large: a digit needs a few dozen pixels, and a 13300x13300 PNG
# (under PIL's bomb limit) took 4.7 GB to decode. JPEGs decode downscaled (draft) whatever their size.
MAX_PIXELS = 40_000_000  # e.g. 6000x6000; larger PNG/BMP/TIFF... pictures are refused
# a JPEG is decoded at 1/8 of its size at most, so a larger one is fine up to PIL's own limit
MAX_JPEG_PIXELS = 2 * Image.MAX_IMAGE_PIXELS  # where PIL's DecompressionBombError starts: 178 megapixels
WORK_SIDE = 1024  # pictures larger than this on a side are scaled down to it before preparing
MIN_CONTRAST = 32  # ink must differ from the background by this much (of 255) to count as a digit
HIGH_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open a picture, decoded small enough to prepare (see MAX_PIXELS); ImageError saying why not."""
    if not os.fspath(path):  # said ": no such file"
        raise ImageError("an empty path names no picture")
    with contextlib.suppress(OSError):  # (a missing file is said below)
        mode = os.stat(path).st_mode
        for is_kind, kind in FILE_KINDS:  # as a data file is checked: a pipe was waited on for ever (walk39 F8)
            if is_kind(mode):
                raise ImageError(f"{path} is a {kind}, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is checked below
            with Image.open(path) as image:
                if image.format == "JPEG":
                    image.draft("L", (WORK_SIDE, WORK_SIDE))  # the decoder scales by 1/2, 1/4 or 1/8
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(f"{path} is {width}x{height} pixels; predict reads pictures up to "
                                     f"{MAX_PIXELS // 1_000_000} megapixels: scale it down first")
                image.load()
                image = image.copy()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:  # said "is not a readable image: [Errno 21] Is a directory: ..."
        raise ImageError(f"{path} is a folder, not an image") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path} is too large to decode safely; predict reads pictures up to "
                         f"{MAX_PIXELS // 1_000_000} megapixels (JPEGs up to {MAX_JPEG_PIXELS // 1_000_000})") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for unreadable files
        if os.path.isfile(path) and os.path.getsize(path) == 0 and _holds_nothing(path):  # (/proc's read 0 too)
            raise ImageError(f"{path} is an empty file, not an image") from None
        raise ImageError(f"{path} is not a readable image: {exc}") from None
    if max(image.size) > WORK_SIDE:
        if image.mode in ("1", "P"):  # resized by nearest neighbour, which drops thin strokes
            image = image.convert("RGBA" if "transparency" in image.info else "L")
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)  # averages: a thin stroke stays, lighter
    return image


def _holds_nothing(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as fh:
            return not fh.read(1)
    except OSError:
        return False


def _gray_pixels(image: Image.Image) -> np.ndarray:
    """Grayscale float32 pixels in 0..255; 16-bit and float pictures scaled, not clipped (PIL's "L" clips)."""
    if image.mode in HIGH_BIT_MODES:
        pixels = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or 255 < float(pixels.max(initial=0)) <= 65535 else None
        if top is None:  # 8-bit values in an "I" picture, or floats: use the values' own range
            low, high = float(pixels.min(initial=0)), float(pixels.max(initial=0))
            return pixels if low >= 0 and high <= 255 else (pixels - low) * (255.0 / max(high - low, 1e-12))
        return pixels * (255.0 / top)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # transparent areas count as background: flatten onto white, or onto black under light ink (a white digit
        # on a transparent picture was flattened onto white: "no digit found", walk38 F12)
        image = image.convert("RGBA")
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32)
        gray = np.asarray(ImageOps.grayscale(image.convert("RGB")), dtype=np.float32)
        light = float((gray * alpha).sum()) > 127 * float(alpha.sum())
        image = Image.alpha_composite(Image.new("RGBA", image.size, (0, 0, 0, 255) if light else (255, 255, 255, 255)),
                                      image)
    return np.asarray(ImageOps.grayscale(image), dtype=np.float32)


def prepare_digit(image: Image.Image | np.ndarray, *, require_ink: bool = False) -> torch.Tensor:
    """Return a uint8 [28, 28] tensor, light ink on black, the ink centred as in MNIST.

    A picture without ink gives all zeros, or raises NoDigit when ``require_ink``.
    """
    pixels = image.astype(np.float32) if isinstance(image, np.ndarray) else _gray_pixels(image)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ImageError("expected a 2-D grayscale picture")
    # dark-on-light (the border is bright) is inverted to MNIST's light-on-dark
    if np.median(_border(pixels)) > 127:
        pixels = 255 - pixels
    pixels = np.clip(pixels - np.median(_border(pixels)), 0, None)  # background to 0
    peak = pixels.max()
    if require_ink and (peak < MIN_CONTRAST or min(pixels.shape) < 2):
        raise NoDigit("no digit found (the picture is blank, one flat colour or too faint)")
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
