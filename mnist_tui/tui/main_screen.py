"""The screen under the pushed views: the four tabs, the progress line and the footer."""

from __future__ import annotations

from textual.screen import Screen


class MainScreen(Screen):
    """Never focuses a widget by itself: the views give the keys where they belong.

    Textual focuses the first focusable widget in the DOM when a screen comes back with nothing focused, hidden
    tabs' widgets included, and the tabs follow the focus: Stop pressed on its button (disabled, so blurred,
    under the "Stop the run?" dialog) showed Results, its table focused. The app opens on the form's first field;
    after a run the Train view gives the keys back to the field that had them (``TrainPane._keep_focus_here``).
    """

    AUTO_FOCUS = ""
