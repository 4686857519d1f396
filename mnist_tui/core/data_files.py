"""Where MNIST-format data lies and whether its files are sound, without torch.

The files are found (torchvision's layout, or the raw folder itself), downloaded by torchvision when missing,
and checked (each IDX header against its file's length, images against labels): ``mnist-tui tune`` checks the
data this way before its trials start, and importing torch for it held the first trial back by seconds.
:mod:`.data` reads the checked files into tensors.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

from .config import DATASET_TITLES
from .formatting import clip

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


def help_text(root: Path, dataset: str, problem: str, detail: str = "", damaged: Path | None = None,
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
        if problem := broken_symlink(path):
            return f"{path} {problem}"
        info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a data file"
    for is_kind, kind in FILE_KINDS:
        if is_kind(info.st_mode):
            return f"{path} is a {kind}, not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    return None


def broken_symlink(path: Path) -> str | None:
    """Why ``path``, a symlink, leads nowhere ("is a symlink loop", "is a symlink to X, which does not exist"); None
    when it is no symlink or leads somewhere. For the data's files and the checkpoints folder alike."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except FileNotFoundError:
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symlink loop"
        return f"is a symlink that cannot be followed: {exc.strerror}"
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


def _remove_empty_folders(folders: list[Path]) -> None:
    """rmdir each (deepest first), stopping at the first that holds something or is gone."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _check_files(raw: Path, files: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Each file's item count, once its header, its length and its split's other file agree; labels are 0-9."""
    counts = {name: _check_idx(raw / name, magic) for name, magic in files}
    for images, labels in (RAW_FILES[:2], RAW_FILES[2:]):
        if images[0] in counts and counts[images[0]] != counts[labels[0]]:
            found = list(counts.values())
            raise DamagedData(f"{raw}: image and label files disagree on the number of digits ({found})")
    for name, magic in files:
        if magic == 0x0801 and max((raw / name).read_bytes()[8:], default=0) > 9:
            raise DamagedData(f"{raw}: label files hold values above 9")
    return counts


def find_data(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True, dataset: str = "mnist",
              only: str | None = None) -> tuple[Path, Path, dict[str, int]]:
    """(the data folder, the raw folder, each file's item count) for :func:`.data.load_mnist`, once the files are
    found (downloaded if missing and ``download``) and checked; ``only`` "test" or "train": that split's files.

    Raises DataUnavailable with the folder, the expected files and the fix.
    """
    files = SPLIT_FILES[only]
    root = resolve_data_dir(data_dir)
    if problem := _folder_problem(root):
        raise DataUnavailable(help_text(root, dataset, problem, files=files))
    raw, problem = _find_raw_dir(root, dataset, files)
    if problem:  # something is there but unusable: say so rather than download over it
        raise DataUnavailable(help_text(root, dataset, problem, files=files))
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
            raise DataUnavailable(help_text(root, dataset, f"{DATASET_TITLES[dataset]} is not on disk and could not "
                                        "be downloaded" + (" (no network)." if offline else "."),
                                        f"The download said: {clip(reason)}", files=files)) from exc
        raw, problem = _find_raw_dir(root, dataset, files)
        if problem:
            raise DataUnavailable(help_text(root, dataset, problem, files=files))
    if raw is None:
        raise DataUnavailable(help_text(root, dataset, f"{DATASET_TITLES[dataset]} is not on disk.", files=files))
    try:
        return root, raw, _check_files(raw, files)
    except DamagedData as exc:
        raise DataUnavailable(help_text(root, dataset, str(exc), damaged=raw, files=files)) from exc
    except DataUnavailable as exc:
        raise DataUnavailable(help_text(root, dataset, str(exc), files=files)) from exc
    except Exception as exc:  # noqa: BLE001 - any other read failure
        raise DataUnavailable(help_text(root, dataset, f"Could not read the files in {raw}: {exc!r}",
                                        files=files)) from exc
