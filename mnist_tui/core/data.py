"""MNIST through torchvision, held in memory as uint8 tensors and batched by index.

torchvision's per-sample PIL transforms and a DataLoader cost more than a small
model on a CPU, so the whole set stays as one tensor (47 MB) and batches are cut
from it, normalised and (optionally) augmented per sample on the fly.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import DATASET_TITLES
from .formatting import clip

# torchvision's MNIST statistics, used for every model.
MEAN = 0.1307
STD = 0.3081

ENV_VAR = "MNIST_TUI_DATA"
RAW_FILES = (
    ("train-images-idx3-ubyte", 0x0803),
    ("train-labels-idx1-ubyte", 0x0801),
    ("t10k-images-idx3-ubyte", 0x0803),
    ("t10k-labels-idx1-ubyte", 0x0801),
)
SPLIT_FILES = {None: RAW_FILES, "train": RAW_FILES[:2], "test": RAW_FILES[2:]}  # what load_mnist(only=) reads
# torchvision keeps each dataset under <root>/<ClassName>/raw, with MNIST's four file names
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


class DataUnavailable(RuntimeError):
    """The dataset could not be found, downloaded or read; the message says how to fix it."""


class DamagedData(DataUnavailable):
    """A data file is there but is not what it should be (truncated, another format): nothing downloads over it."""


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # uint8 [N, 28, 28]
    train_labels: torch.Tensor  # int64 [N]
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str  # the folder the raw files were read from
    dataset: str = "mnist"


@dataclass(frozen=True)
class Splits:
    """Train/validation cut of the training set (fixed by the seed), and the test set."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def default_data_dir() -> Path:
    """The per-user cache folder used when neither a flag nor the env variable says."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnist-tui")) / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` if given, else $MNIST_TUI_DATA, else the per-user cache folder."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return default_data_dir()


def _help(root: Path, dataset: str, problem: str, detail: str = "", damaged: Path | None = None,
          files: tuple[tuple[str, int], ...] = RAW_FILES) -> str:
    """What is wrong, then the fix, then where we looked (a dialog at 80x24 shows the fix without scrolling);
    ``damaged``: the folder holding a damaged file (nothing downloads over it)."""
    folder = root / TORCHVISION_FOLDER[dataset] / "raw"
    names = ", ".join(name for name, _ in files)
    elsewhere = f"--data-dir DIR or the {ENV_VAR} environment variable"
    fix = (f"replace the damaged file with a good copy, or delete the folder {damaged} and run again with the "
           f"internet so torchvision downloads it, or point the program at another folder with {elsewhere}"
           if damaged else
           f"point the program at a folder that holds {TORCHVISION_FOLDER[dataset]}/raw/ with {elsewhere}, "
           "or connect to the internet so torchvision can download them")
    return (
        f"{problem}\n"
        f"To fix: {fix}.\n"
        f"Looked in: {folder}\n"
        f"Expected there (or their .gz downloads): {names}."
        + (f"\n{detail}" if detail else "")
    )


MISSING = "missing"
FILE_KINDS = ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
              (stat.S_ISBLK, "block device"))


def _data_file_problem(path: Path) -> str | None:
    """None for a readable regular file, MISSING when nothing is there, else what is wrong (naming the file).

    Checked before anything opens the file: opening a FIFO would block, and a folder we may
    not enter makes pathlib's is_file() raise.
    """
    try:
        info = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except PermissionError:
        return f"cannot look inside {path.parent}: permission denied"
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror or exc}"
    if stat.S_ISLNK(info.st_mode):
        try:
            info = path.stat()
        except FileNotFoundError:
            return f"{path} is a symlink to {os.readlink(path)}, which does not exist"
        except OSError as exc:
            return f"{path} is a symlink that cannot be followed: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a data file"
    for is_kind, kind in FILE_KINDS:
        if is_kind(info.st_mode):
            return f"{path} is a {kind}, not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None


def _folder_problem(root: Path) -> str | None:
    """What is wrong with the data folder itself; None when it is a folder or absent (then downloaded to)."""
    try:
        info = root.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return f"cannot look at {root}: {(exc.strerror or str(exc)).lower()}"
    return None if stat.S_ISDIR(info.st_mode) else f"{root} is not a folder (the data folder holds MNIST/raw/)"


def _find_raw_dir(root: Path, dataset: str, files: tuple[tuple[str, int], ...] = RAW_FILES
                  ) -> tuple[Path | None, str | None]:
    """(the raw folder, None), or (None, what is wrong with the files there; None when they are simply absent).

    Accepts the torchvision root, its <Name>/ folder, or the raw folder itself.
    Other datasets share MNIST's file names, so outside <Name>/raw only MNIST is assumed.
    """
    name = TORCHVISION_FOLDER[dataset]
    candidates = [root / name / "raw"]
    if dataset == "mnist" or root.name == name:
        candidates.append(root / "raw")
    if dataset == "mnist" or (root.name == "raw" and root.parent.name == name):
        candidates.append(root)
    first_problem = None
    for candidate in candidates:
        problems = [_data_file_problem(candidate / f) for f, _ in files]
        if not any(problems):
            return candidate, None
        first_problem = first_problem or next((p for p in problems if p and p != MISSING), None)
    return None, first_problem


def _check_idx(path: Path, magic: int) -> int:
    """Check an IDX file's magic number and length against its header; return its item count."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(16 if magic == 0x0803 else 8)
    except OSError as exc:
        raise DataUnavailable(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}") from None
    if len(header) < 8:
        raise DamagedData(f"{path} is truncated ({size} bytes)")
    found, count = struct.unpack(">II", header[:8])
    if found != magic:
        raise DamagedData(f"{path} is not an MNIST file (magic number {found:#06x}, expected {magic:#06x})")
    if count == 0:
        raise DamagedData(f"{path} holds no digits (its header says 0 items)")
    expected = 8 + count
    if magic == 0x0803:
        if len(header) < 16:
            raise DamagedData(f"{path} is truncated ({size} bytes)")
        rows, cols = struct.unpack(">II", header[8:16])
        if (rows, cols) != (28, 28):
            raise DamagedData(f"{path} holds {rows}x{cols} images, expected 28x28")
        expected = 16 + count * rows * cols
    if size != expected:
        raise DamagedData(f"{path} is truncated or corrupt: {size} bytes, its header says {expected}")
    return count


def _read_idx(path: Path, magic: int, count: int) -> torch.Tensor:
    """An IDX file's items as uint8 ([N, 28, 28] images or [N] labels); _check_idx has checked its header.

    Parsed here rather than by torchvision, whose import costs ~170 MB of memory.
    """
    offset = 16 if magic == 0x0803 else 8
    items = torch.frombuffer(bytearray(path.read_bytes()[offset:]), dtype=torch.uint8)
    return items.view(count, 28, 28) if magic == 0x0803 else items


def _read_raw(raw: Path, files: tuple[tuple[str, int], ...] = RAW_FILES) -> tuple[torch.Tensor, ...]:
    """(train images, train labels, test images, test labels); a split not in ``files`` is empty."""
    counts = {name: _check_idx(raw / name, magic) for name, magic in files}
    for images, labels in (RAW_FILES[:2], RAW_FILES[2:]):
        if images[0] in counts and counts[images[0]] != counts[labels[0]]:
            found = list(counts.values())
            raise DamagedData(f"{raw}: image and label files disagree on the number of digits ({found})")
    empty = {0x0803: torch.empty(0, 28, 28, dtype=torch.uint8), 0x0801: torch.empty(0, dtype=torch.uint8)}
    tensors = tuple(_read_idx(raw / name, magic, counts[name]) if name in counts else empty[magic]
                    for name, magic in RAW_FILES)
    if any(len(labels) and int(labels.max()) > 9 for labels in tensors[1::2]):
        raise DamagedData(f"{raw}: label files hold values above 9")
    return tensors


def _remove_empty_folders(folders: list[Path]) -> None:
    """rmdir each (deepest first), stopping at the first that holds something or is gone."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def load_mnist(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True,
               dataset: str = "mnist", only: str | None = None) -> MnistData:
    """Read MNIST from ``data_dir`` (see :func:`resolve_data_dir`), downloading if missing; ``only`` "test" or
    "train" reads that split's two files alone (the other split is empty): a damaged or missing training file
    stopped eval, explain, map and export's check, and they said the test set was missing (walk35 F7).

    Raises DataUnavailable with the folder, the expected files and the fix.
    """
    files = SPLIT_FILES[only]
    root = resolve_data_dir(data_dir)
    if problem := _folder_problem(root):
        raise DataUnavailable(_help(root, dataset, problem, files=files))
    raw, problem = _find_raw_dir(root, dataset, files)
    if problem:  # something is there but unusable: say so rather than download over it
        raise DataUnavailable(_help(root, dataset, problem, files=files))
    if raw is None and download:
        import torchvision.datasets

        target = root / TORCHVISION_FOLDER[dataset] / "raw"
        made = [p for p in (target, *target.parents) if not p.exists()]
        try:
            root.mkdir(parents=True, exist_ok=True)
            getattr(torchvision.datasets, TORCHVISION_FOLDER[dataset])(str(root), train=True, download=True)
        except Exception as exc:  # noqa: BLE001 - any download failure means the same to the user
            _remove_empty_folders(made)  # a failed download leaves no MNIST/raw/ behind (runs would list it)
            reason = " ".join(str(exc).split()).rstrip(":;,. ") or type(exc).__name__  # torchvision's is multi-line
            offline = "Name or service not known" in reason or "Temporary failure in name resolution" in reason
            raise DataUnavailable(_help(root, dataset, f"{DATASET_TITLES[dataset]} is not on disk and could not "
                                        "be downloaded" + (" (no network)." if offline else "."),
                                        f"The download said: {clip(reason)}", files=files)) from exc
        raw, problem = _find_raw_dir(root, dataset, files)
        if problem:
            raise DataUnavailable(_help(root, dataset, problem, files=files))
    if raw is None:
        raise DataUnavailable(_help(root, dataset, f"{DATASET_TITLES[dataset]} is not on disk.", files=files))
    try:
        train_x, train_y, test_x, test_y = _read_raw(raw, files)
    except DamagedData as exc:
        raise DataUnavailable(_help(root, dataset, str(exc), damaged=raw, files=files)) from exc
    except DataUnavailable as exc:
        raise DataUnavailable(_help(root, dataset, str(exc), files=files)) from exc
    except Exception as exc:  # noqa: BLE001 - any other read failure
        raise DataUnavailable(_help(root, dataset, f"Could not read the files in {raw}: {exc!r}", files=files)) from exc
    return MnistData(train_x.contiguous(), train_y.long(), test_x.contiguous(), test_y.long(), str(raw), dataset)


def split(data: MnistData, val_size: int, seed: int) -> Splits:
    """Hold out ``val_size`` training digits for validation, chosen by ``seed``."""
    n = len(data.train_labels)
    if val_size >= n:
        raise DataUnavailable(f"val_size {val_size} leaves no training data ({n} training digits)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[: n - val_size].sort().values, order[n - val_size:].sort().values
    return Splits(
        data.train_images[train_idx], data.train_labels[train_idx],
        data.train_images[val_idx], data.train_labels[val_idx],
        data.test_images, data.test_labels,
    )


def on_device(splits: Splits, device: torch.device) -> Splits:
    """The training digits resident on ``device`` (47 MB at most), so batches are cut there and
    nothing crosses to a GPU per batch; validation and test stay where they are (evaluated in batches)."""
    if device.type == "cpu":
        return splits
    return replace(splits, train_images=splits.train_images.to(device),
                   train_labels=splits.train_labels.to(device))


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without the host waiting for the GPU: a plain copy waits for
    all queued work (a host sync per batch); one from pinned memory is queued like a kernel."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 28, 28] or float [B, 1, 28, 28] in [0, 1] -> normalised float [B, 1, 28, 28]."""
    if images.dtype == torch.uint8:
        images = images.unsqueeze(1).float().div_(255)
    return (images - MEAN) / STD


ELASTIC_SIGMA = 5.0  # smoothness of the elastic displacement field, pixels


def random_affine(images: torch.Tensor, rotate: float, translate: float, scale: float,
                  generator: torch.Generator, elastic: float = 0.0) -> torch.Tensor:
    """Per-sample random rotation/shift/zoom (and elastic distortion) of float [B, 1, H, W] images in [0, 1].

    Each sample draws its own parameters (torchvision.transforms.v2 would draw one per batch).
    ``elastic`` is Simard et al. 2003's alpha in pixels: a random displacement field,
    smoothed by a Gaussian of ``ELASTIC_SIGMA`` pixels, scaled by alpha (34 there).
    """
    b, _, h, w = images.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(b) * math.radians(rotate)
    zoom = 1 + uniform(b) * scale
    shift = torch.stack([uniform(b), uniform(b)], dim=1) * translate * 2  # grid spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos, -sin, shift[:, 0]], dim=1),
        torch.stack([sin, cos, shift[:, 1]], dim=1),
    ], dim=1)
    # the parameters are drawn on the CPU (the same stream on any device, so a run resumes exactly
    # elsewhere); the warping itself runs where the images are
    grid = F.affine_grid(to_device(theta, images.device), list(images.shape), align_corners=False)
    if elastic > 0:
        field = _smooth(to_device(uniform(b * 2, 1, h, w), images.device), ELASTIC_SIGMA).view(b, 2, h, w)
        # pixels to the grid's units; a scale tensor made from numbers here would be a blocking copy to a GPU
        grid = grid + torch.stack([field[:, 0] * (elastic * 2 / w), field[:, 1] * (elastic * 2 / h)], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _smooth(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [N, 1, H, W] (separable, zero padding), as in Simard et al.'s elastic distortion."""
    radius = int(2 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=field.dtype, device=field.device)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    field = F.conv2d(field, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch ``epoch``; a function of (seed, epoch) so a resumed run matches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def training_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, order: torch.Tensor,
                     *, start_step: int = 0, device: torch.device | str = "cpu",
                     rotate: float = 0.0, translate: float = 0.0, scale: float = 0.0, elastic: float = 0.0,
                     generator: torch.Generator | None = None,
                     views: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised (x, y) batches in ``order`` from ``start_step``; augment per sample if asked.

    With augmentation and ``views`` > 1, x holds ``views`` augmented copies of the batch one
    after the other (each sample's copies drawn apart), for an ensemble's members; y is the batch's.
    """
    augment = rotate > 0 or translate > 0 or scale > 0 or elastic > 0
    order = to_device(order, images.device)  # cut where the images are (on_device)
    for start in range(start_step * batch_size, len(order), batch_size):
        idx = order[start:start + batch_size]
        x = images[idx].to(device, non_blocking=True).unsqueeze(1).float().div_(255)
        if augment:
            if views > 1:
                x = x.repeat(views, 1, 1, 1)
            x = random_affine(x, rotate, translate, scale, generator or torch.Generator(), elastic)
        yield normalize(x), labels[idx].to(device, non_blocking=True)


def eval_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
                 device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised (x, y) batches in dataset order, for evaluation."""
    for start in range(0, len(labels), batch_size):
        yield (normalize(images[start:start + batch_size].to(device)),
               labels[start:start + batch_size].to(device))
