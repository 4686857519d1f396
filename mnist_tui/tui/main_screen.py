"""The screen under the pushed views: the four tabs, the progress line and the footer."""

from __future__ import annotations

from textual import events
from textual.screen import Screen


class MainScreen(Screen):
    """Never focuses a widget by itself: the views give the keys where they belong.

    Textual focuses the first focusable widget in the DOM when a screen comes back with nothing focused, hidden
    tabs' widgets included, and the tabs follow the focus: Stop pressed on its button (disabled, so blurred,
    under the "Stop the run?" dialog) showed Results, its table focused. The app opens on the form's first field;
    after a run the Train view gives the keys back to the field that had them (``TrainPane.keep_focus_here``).
    """

    AUTO_FOCUS = ""

    def __init__(self, width: int, breakpoints: list[tuple[int, str]], **kwargs) -> None:
        """Starts with the class the first resize would give a terminal ``width`` wide (``-narrow``, ``-wide``):
        given then, it restyled every widget of the first frame (0.2 s of the start)."""
        classes = [name for least, name in sorted(breakpoints, reverse=True) if width >= least][:1]
        super().__init__(classes=" ".join(classes), **kwargs)
        self._resumed = False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """The first resume keeps the styles the widgets were given as they mounted, a moment before: Textual
        restyled them all again (0.2 s of the start). Later resumes, after a pushed view, refresh them as usual."""
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
