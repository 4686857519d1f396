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


TERMINAL = ("finished", "stopped", "failed")


def recording_app_class():
    """The real app, plus a record of the engine events it handled (test-only hooks live here, not in the app)."""
    from mnist_tui.tui.app import MnistApp

    class RecordingApp(MnistApp):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.events_seen: list[str] = []
            self._event_arrived = asyncio.Event()

        def on_engine_events(self, message) -> None:
            super().on_engine_events(message)
            message.prevent_default()  # Textual would call the base class's handler again
            self.events_seen.extend(event.kind for event in message.events)
            self._event_arrived.set()

        async def wait_for_event(self, kind: str, count: int = 1) -> None:
            """Wait until ``count`` engine events of ``kind`` ("paused", "finished", ...) have been handled."""
            seen_before = len(self.events_seen)
            while self.events_seen.count(kind) < count:
                ended = self.events_seen and self.events_seen[-1] in TERMINAL
                if kind not in TERMINAL and ended and (len(self.events_seen) > seen_before or not self.controller.active):
                    raise RuntimeError(f"the run ended ({self.events_seen[-1]}) before a {kind!r} event")
                self._event_arrived.clear()
                await self._event_arrived.wait()

    return RecordingApp


@pytest.fixture
def make_app(synthetic_root: Path, tmp_path: Path, settings_path: Path):
    app_class = recording_app_class()

    def make(**kwargs):
        options = dict(data_dir=synthetic_root, checkpoints_dir=tmp_path / "runs", preset=None,
                       settings_path=settings_path, download=False)
        options.update(kwargs)
        return app_class(**options)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop (no async plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None
