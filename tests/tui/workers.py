"""Waiting for an app's workers in a test."""

from __future__ import annotations

import asyncio

from textual.worker import WorkerCancelled


async def workers_done(app, workers=None) -> None:
    """Wait until the app's workers now running (or ``workers``) have ended, as ``app.workers.wait_for_complete``
    does, but a worker that ended cancelled is not a failure: an exclusive group ("list runs", the explainer)
    cancels the one it replaces, and an app that exits cancels what still runs. A worker that failed still raises."""
    ended = await asyncio.gather(*(worker.wait() for worker in (app.workers if workers is None else workers)),
                                 return_exceptions=True)
    for outcome in ended:
        if isinstance(outcome, BaseException) and not isinstance(outcome, WorkerCancelled):
            raise outcome
