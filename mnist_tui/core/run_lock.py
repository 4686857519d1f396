"""One writer per run: an exclusive OS lock on ``<run>/.lock`` for as long as a process trains into it.

``fcntl.flock`` locks belong to the open file, so the kernel drops the lock when its
holder dies, however it dies: a crash never leaves a stale lock. The holder writes its
PID into the file so that others can say who has the run. Readers (``runs``, the Runs
view) probe with a shared lock taken and dropped at once; a writer that meets such a
probe tries again for a moment before it calls the run busy. ``check_writable`` says, before
anything loads or is written, whether this process may write there at all (a read-only mount).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

from .atomic import CheckpointError

LOCK_FILE = ".lock"
WAIT_S = 1.0  # how long a writer retries: far longer than a reader's probe, far shorter than a run


class RunBusy(CheckpointError):
    """Another process is training into the run; ``pid`` is its process id (None when it could not be read)."""

    def __init__(self, run_dir: Path, pid: int | None):
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{run_dir} is being trained by {who}")
        self.pid = pid


class NotWritable(CheckpointError):
    """The checkpoints folder (a new run) or the run folder (a resumed one) takes no new files."""


def check_writable(checkpoints_dir: Path, run_dir: Path | None = None) -> None:
    """Raise NotWritable unless a new run can be made in ``checkpoints_dir`` (or in the folder it would be
    made in) or, given ``run_dir``, that run can be resumed in place: a file is made and removed, nothing else."""
    folder = Path(run_dir if run_dir is not None else checkpoints_dir)
    what = "the run folder" if run_dir is not None else "the checkpoints folder"
    from .runs import is_shipped  # (runs imports this module)

    if run_dir is not None and is_shipped(folder):  # a run name found nowhere else resolves to these
        copy = Path(checkpoints_dir) / f"{folder.name}-more"
        raise NotWritable(f"{folder.name} is a model shipped with mnist-tui ({folder}), not trained in place; to "
                          f"train it on, copy it (cp -r {folder} {copy}) and resume the copy")
    try:
        existing = folder if run_dir is not None else next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir():  # a missing run, or a file: said where it is read
            return
    except OSError as exc:  # a parent that may not be looked into
        raise NotWritable(f"{folder}: cannot use {what}: {exc.strerror}") from None
    try:
        with tempfile.TemporaryFile(dir=existing):  # the only sure test (read-only mounts, root, ACLs)
            pass
    except OSError as exc:
        where = "" if existing == folder else f" ({existing}, where it would be made)"
        raise NotWritable(f"{folder}: cannot write in {what}{where}: {exc.strerror}") from None


class RunLock:
    """The held lock of one run folder; released by ``release()``, by garbage collection, or by the process's end."""

    def __init__(self, run_dir: Path, file):
        self.run_dir = run_dir
        self._file = file

    @property
    def held(self) -> bool:
        return self._file is not None

    def mark_paused(self, paused: bool) -> None:
        """Say in the lock file whether the run is paused (``runs`` and Compare read it; the lock's end ends it)."""
        if self._file is not None:
            try:
                os.ftruncate(self._file.fileno(), 0)
                os.pwrite(self._file.fileno(), f"{os.getpid()}\n{'paused' if paused else ''}".encode(), 0)
            except OSError:  # a full disk: it reads "training"
                pass

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").split("\n")[0].strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def paused(run_dir: Path) -> bool:
    """Whether the process training into ``run_dir`` has paused it (RunLock.mark_paused); False when none is."""
    try:
        return owner(run_dir) is not None and \
            (Path(run_dir) / LOCK_FILE).read_text("ascii", "replace").split("\n")[1:2] == ["paused"]
    except OSError:
        return False


def acquire(run_dir: Path, wait_s: float = WAIT_S) -> RunLock:
    """Take ``run_dir`` (which must exist) for this process to train into; RunBusy if another process has it."""
    path = Path(run_dir) / LOCK_FILE
    deadline = time.monotonic() + wait_s
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                raise RunBusy(Path(run_dir), pid) from None
            time.sleep(0.02)
            continue
        except BaseException:
            os.close(fd)
            raise
        try:  # the folder may have been removed and made again while we waited: hold the file that is there
            current = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            current = False
        if not current:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only its PID is unknown
            pass
        return RunLock(Path(run_dir), os.fdopen(fd, "r+b", buffering=0))


def owner(run_dir: Path) -> int | None:
    """The PID of the process training into ``run_dir`` (0 when unknown), or None when no process is."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: nothing ever trained here under a lock
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(fd) or 0
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return None


def remove_leftovers(run_dir: Path, names: tuple[str, ...]) -> int:
    """Delete the temporary files a killed writer left (``.last.pt.*.tmp``); call it holding the lock."""
    removed = 0
    for name in names:
        for tmp in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


__all__ = ["LOCK_FILE", "NotWritable", "RunBusy", "RunLock", "acquire", "check_writable", "owner", "paused",
           "remove_leftovers"]
