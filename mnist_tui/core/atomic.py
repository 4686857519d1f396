"""Writing files safely, without torch: atomic replacement, the user's umask, a full disk said as such.

Every file mnist-tui writes goes through here (or is appended by ``append_text``):
a crash mid-write leaves the old file, a new file gets the mode ``open()`` would give
it (0644 under the usual umask; ``mkstemp`` alone makes 0600), and a full disk (or a
file-size limit) raises DiskFull naming the folder and the size, never a torch error.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FULL_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}  # EFBIG: over a file-size limit (ulimit -f)
DISK_FULL = "no space left on"  # how DiskFull's message starts (a run's Failed reason, read by tune)


class CheckpointError(RuntimeError):
    """A file or folder that is not a usable mnist-tui run or checkpoint; the message says why."""


class DamagedFile(CheckpointError, ValueError):
    """A run file or checkpoint whose content is not what mnist-tui writes (crafted, damaged, or foreign)."""


class DiskFull(CheckpointError):
    """A write failed for lack of space (or over a file-size limit); the old file, if any, is intact."""

    def __init__(self, folder: Path, needed: int):
        super().__init__(f"{DISK_FULL} {folder}" + (f" (needs about {_size(needed)})" if needed else ""))
        self.needed = needed


def _size(n: int) -> str:
    return f"{max(n, 1) / 1e3:.0f} KB" if n < 1e6 else f"{n / 1e6:.{1 if n < 1e7 else 0}f} MB"


def _old_size(path: Path) -> int:
    """The size of the file a write replaces (about what the new one needs), 0 if none."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in FULL_DISK_ERRNOS
    # torch.save's own file writer reports a short write as "unexpected pos" or "file write failed", and one that
    # fails at its very end as its stream's "basic_ios::clear: iostream error" (a run ended on that, walk38 F3)
    return isinstance(exc, RuntimeError) and any(said in str(exc) for said in (
        "unexpected pos", "file write failed", "basic_ios::clear"))


def file_mode() -> int:
    """The mode a new file gets from open() under the user's umask (mkstemp's are 0600)."""
    try:  # /proc tells the umask without changing it (os.umask would, for a moment, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, write: Callable[[str], Any], size: int | None = None) -> None:
    """Call ``write(tmp_path)`` then move the result over ``path``; a crash leaves the old file.

    The file gets the user's umask like any other; a full disk raises DiskFull (``size``: the bytes
    it needed, when known) and leaves the old file and no temp file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if exc.errno in FULL_DISK_ERRNOS:
            raise DiskFull(path.parent, size or _old_size(path)) from None
        raise
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        written = Path(tmp).stat().st_size if Path(tmp).is_file() else 0
        Path(tmp).unlink(missing_ok=True)
        if _is_disk_full(exc):
            raise DiskFull(path.parent, size or max(written, _old_size(path))) from None
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the names in ``folder`` durable: a file's fsync keeps its bytes but not a rename or a new entry, which
    a power cut can undo (leaving the old file, or none). A filesystem that cannot sync a folder is let be."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # EINVAL on some filesystems: the rename itself stands
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``data`` to ``path`` atomically, by plain writes (so a full disk says so: ENOSPC, not a torch error)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
    write_atomic(path, write, len(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def append_text(path: Path, text: str, sync: bool = False) -> None:
    """Add ``text`` to the end of ``path``; a full disk raises DiskFull (a torn last line is skipped on reading)."""
    try:
        with path.open("a") as fh:
            fh.write(text)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in FULL_DISK_ERRNOS:
            raise DiskFull(path.parent, len(text.encode())) from None
        raise


__all__ = [
    "DISK_FULL", "FULL_DISK_ERRNOS", "CheckpointError", "DamagedFile", "DiskFull", "append_text", "file_mode",
    "sync_folder", "write_atomic", "write_bytes_atomic", "write_text_atomic",
]
