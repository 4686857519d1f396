"""Fixtures for driving the real app on the tiny synthetic dataset."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from mnist_tui.core.config import PRESETS
from mnist_tui.tui.settings import save_form


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    """A form-memory file that starts as seed-mlp with 100 validation digits (the synthetic set is small)."""
    path = tmp_path / "settings" / "last-form.json"
    save_form(path, "seed-mlp", PRESETS["seed-mlp"].replace(val_size=100, threads=1))
    return path


@pytest.fixture
def make_app(synthetic_root: Path, tmp_path: Path, settings_path: Path):
    from mnist_tui.tui.app import MnistApp

    def make(**kwargs) -> MnistApp:
        options = dict(data_dir=synthetic_root, checkpoints_dir=tmp_path / "runs", preset="seed-mlp",
                       settings_path=settings_path, metrics_interval_s=0.0, download=False)
        options.update(kwargs)
        return MnistApp(**options)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no async plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None
