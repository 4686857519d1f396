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


def real_data_dir() -> Path | None:
    return Path(REAL_DATA) if REAL_DATA and Path(REAL_DATA).is_dir() else None
