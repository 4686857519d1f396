"""The tests' wait for workers: a replaced worker is not a failure, a failed one is."""

from __future__ import annotations

import threading

import pytest
from textual import work
from textual.app import App
from textual.worker import WorkerCancelled, WorkerFailed

from tests.tui.workers import workers_done


class Lister(App):
    """Lists in an exclusive worker, as the Runs view does: a second listing cancels the first."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    @work(thread=True, exclusive=True, exit_on_error=False, group="list")
    def listing(self, fail: bool = False) -> None:
        self.release.wait(10)
        if fail:
            raise OSError("the folder went away")


async def test_a_listing_replaced_by_a_newer_one_is_waited_for_without_failing():
    app = Lister()
    async with app.run_test():
        app.listing()
        app.listing()  # cancels the first, as two refreshes in a row do
        app.release.set()
        with pytest.raises(WorkerCancelled):  # what the tests used to wait with, and why CI failed once
            await app.workers.wait_for_complete()
    app = Lister()
    async with app.run_test():
        first, second = app.listing(), app.listing()
        app.release.set()
        await workers_done(app)
    assert (first.state.name, second.state.name) == ("CANCELLED", "SUCCESS")


async def test_a_worker_that_failed_still_fails_the_wait():
    app = Lister()
    async with app.run_test():
        app.listing(fail=True)
        app.release.set()
        with pytest.raises(WorkerFailed):
            await workers_done(app)
