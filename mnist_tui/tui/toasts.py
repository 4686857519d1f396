"""Redraw the screen when a toast goes away: a work-around for Textual 8.2.

Textual removes an expired toast and lays its screen out again, and redraws what changed. But
when the screen's map of widgets had been marked stale in the meantime (a hidden widget was
updated, as the Results pane is when a run finishes), the toast rack asking for its own size
rebuilds that map first, already without the toast: the layout then finds nothing removed, and
the cells the toast covered are never redrawn. Its text stayed over the chart and the status line
until another view was opened. So while toasts are up, which ones are shown is looked at a few
times a second, and the screen is repainted whole when one has gone (even if another came).
"""

from __future__ import annotations

import time

from textual.app import App
from textual.timer import Timer

POLL_SECONDS = 0.25


class ToastRepainter:
    def __init__(self, app: App) -> None:
        self.app = app
        self.until = 0.0  # watch at least until then: a toast is mounted a little after notify()
        self.shown: set[object] = set()
        self.timer: Timer | None = None
        self.keyed: dict[str, object] = {}  # the last toast of each kind that replaces its own

    def replace(self, key: str, message: str, severity: str, timeout: float) -> None:
        """A toast in place of the last one of ``key`` if it is still up: each steering key stacked its own,
        and twenty presses hid the LR chart for ten seconds. (Textual has no public way to withdraw one.)"""
        from textual.notifications import Notification

        old = self.keyed.get(key)
        if old is not None and old in self.app._notifications:
            self.app._unnotify(old, refresh=False)
        self.keyed[key] = notification = Notification(message, "", severity, timeout)
        # added now, not by a Notify message: keys pressed in a burst came before it was handled, so the next
        # found no old toast to take away and they stacked (x8, x16, then the limit's, walk34 F7)
        self.app._notifications.add(notification)
        self.app._refresh_notifications()
        self.watch(timeout)

    def watch(self, timeout: float) -> None:
        """A toast was asked for, to stay ``timeout`` seconds."""
        self.until = max(self.until, time.monotonic() + timeout + 2 * POLL_SECONDS)
        if self.timer is None:
            self.timer = self.app.set_interval(POLL_SECONDS, self._check)

    def _check(self) -> None:
        if not self.app.screen_stack:
            return
        screen = self.app.screen
        shown = set(screen.query("Toast"))
        if self.shown - shown:
            screen.refresh()
        self.shown = shown
        if not shown and time.monotonic() > self.until and self.timer is not None:
            self.timer.stop()
            self.timer = None
