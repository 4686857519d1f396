"""Shared fixtures: tiny synthetic MNIST written as real IDX files, and tiny configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_tui.core.config import TrainConfig
from tests.synthetic import write_synthetic_mnist

REAL_DATA = os.environ.get("MNIST_TUI_DATA")


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision-layout data folder holding 600 train and 200 test synthetic digits."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def synthetic_data(synthetic_root: Path):
    from mnist_tui.core.data import load_mnist

    return load_mnist(synthetic_root, download=False)


@pytest.fixture
def tiny_config() -> TrainConfig:
    """A config that trains in well under a second on the synthetic data."""
    return TrainConfig(model="mlp", hidden=(32,), epochs=2, batch_size=32, optimizer="adam", lr=3e-3,
                       schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)


@pytest.fixture(autouse=True)
def _no_real_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never read the real dataset unless they ask for it explicitly."""
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)


@pytest.fixture
def python_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file that each Python process started from here on touches if it ends through Python's own exit (its
    atexit hooks), not os._exit: for the children that end at once, once their files are written."""
    site, marker = tmp_path / "exit-hook", tmp_path / "python-exit-ran"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import atexit\natexit.register(lambda: open({str(marker)!r}, 'a').close())\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return marker


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch):
    """``read_only(folder)``: in this process, making or writing a file or folder under ``folder`` fails with
    EROFS, as on a read-only mount (tests run as root, whom chmod does not stop, and may not mount)."""
    import errno

    folders: list[Path] = []
    real_open, real_mkdir = os.open, os.mkdir
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    tmpfile = getattr(os, "O_TMPFILE", 0)  # TemporaryFile's unnamed file; it holds O_DIRECTORY's bit

    def refuse(path, dir_fd) -> None:
        if dir_fd is None and not isinstance(path, int):
            where = Path(os.fsdecode(path)).absolute()
            if any(where == f or f in where.parents for f in folders):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def open_(path, flags, mode=0o777, *, dir_fd=None):
        if flags & writes or (tmpfile and (flags & tmpfile) == tmpfile):
            refuse(path, dir_fd)
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def mkdir_(path, mode=0o777, *, dir_fd=None):
        refuse(path, dir_fd)
        return real_mkdir(path, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir_)
    return lambda folder: folders.append(Path(folder).absolute())


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: equal before and after means nothing was written or lost."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def real_data_dir() -> Path | None:
    return Path(REAL_DATA) if REAL_DATA and Path(REAL_DATA).is_dir() else None
