"""A worker's message that reaches the app as it shuts down is dropped, by a sync or an async handler."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import ScreenStackError
from textual.css.query import NoMatches

from mnist_tui.tui.messages import while_mounted


class Closing:
    """What while_mounted looks at on an app that is exiting."""
    _exit, _closing, is_running, screen_stack = True, True, False, []


class Running(Closing):
    _exit, _closing, is_running, screen_stack = False, False, True, ["main"]


class Handlers:
    @while_mounted
    def sync(self):
        raise NoMatches("No nodes match 'ProgressLine'")

    @while_mounted
    async def asynchronous(self):  # as on_run_ended: NoMatches came when awaited, past the guard (CI, 5 Dec)
        raise NoMatches("No nodes match 'ProgressLine'")

    @while_mounted
    async def screen_read(self):  # on_run_ended read app.screen once the screens had gone (CI, 5 Dec, again)
        raise ScreenStackError("No screens on stack")


class ClosingApp(Handlers, Closing):
    pass


class RunningApp(Handlers, Running):
    pass


def test_a_late_message_is_dropped_while_the_app_closes_and_raises_while_it_runs():
    assert ClosingApp().sync() is None
    assert asyncio.run(ClosingApp().asynchronous()) is None
    with pytest.raises(NoMatches):
        RunningApp().sync()
    with pytest.raises(NoMatches):
        asyncio.run(RunningApp().asynchronous())
    assert asyncio.run(ClosingApp().screen_read()) is None
    with pytest.raises(ScreenStackError):
        asyncio.run(RunningApp().screen_read())
