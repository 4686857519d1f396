"""Small, learnable MNIST-format data: IDX files written the way the originals are laid out.

Each class is a simple shape (a bar, a box, a cross...) drawn with random jitter and
noise, so a tiny model learns it in a few steps while the files go through the real
torchvision loading path.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def _draw(label: int, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((28, 28), dtype=np.float32)
    dy, dx = rng.integers(-2, 3, size=2)
    top, left = 6 + dy, 6 + dx
    if label == 0:  # box outline
        img[top:top + 16, left:left + 3] = 1
        img[top:top + 16, left + 13:left + 16] = 1
        img[top:top + 3, left:left + 16] = 1
        img[top + 13:top + 16, left:left + 16] = 1
    elif label == 1:  # vertical bar
        img[top:top + 16, left + 7:left + 10] = 1
    elif label == 2:  # horizontal bar
        img[top + 7:top + 10, left:left + 16] = 1
    elif label == 3:  # cross
        img[top:top + 16, left + 7:left + 10] = 1
        img[top + 7:top + 10, left:left + 16] = 1
    elif label == 4:  # main diagonal
        for i in range(16):
            img[top + i, max(left + i - 1, 0):left + i + 2] = 1
    elif label == 5:  # anti diagonal
        for i in range(16):
            img[top + i, max(left + 14 - i, 0):left + 17 - i] = 1
    elif label == 6:  # filled square
        img[top + 3:top + 13, left + 3:left + 13] = 1
    elif label == 7:  # top bar and right bar
        img[top:top + 3, left:left + 16] = 1
        img[top:top + 16, left + 13:left + 16] = 1
    elif label == 8:  # two horizontal bars
        img[top + 2:top + 5, left:left + 16] = 1
        img[top + 11:top + 14, left:left + 16] = 1
    else:  # left bar and bottom bar
        img[top:top + 16, left:left + 3] = 1
        img[top + 13:top + 16, left:left + 16] = 1
    img = img * rng.uniform(0.7, 1.0) + rng.normal(0, 0.08, size=img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _write_idx(path: Path, array: np.ndarray) -> None:
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.stack([_draw(int(label), rng) for label in labels])
    return images, labels.astype(np.uint8)


def write_synthetic_mnist(root: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write the four MNIST files under ``root/MNIST/raw`` and return ``root``."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_x, train_y = make_split(n_train, seed)
    test_x, test_y = make_split(n_test, seed + 1)
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", train_y)
    _write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    _write_idx(raw / "t10k-labels-idx1-ubyte", test_y)
    return root
