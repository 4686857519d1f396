"""Keys the pushed views share, and ``?`` (the keys panel) for the app."""

from __future__ import annotations

from textual.binding import Binding

# ctrl+q quits from every view (the app's own binding still runs it), but a view's footer keeps its room
# for the view's keys and the run's (f6 Pause, f7 Stop while a run trains): "esc Back" is the way out shown
QUIT_NOT_SHOWN = Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True)

# the main view's keys, which do nothing while a view covers it: said, where they were silent (walk41 F17)
MAIN_VIEW_KEYS = {"f1": "Train", "f2": "Results", "f3": "Misclassified", "f4": "Runs", "f5": "Start",
                  "f9": "Draw", "f10": "Tune", "ctrl+l": "Find lr"}


def main_view_keys(*own: str) -> list[Binding]:
    """Bindings for a pushed view that say "esc first" for the main view's keys, less the view's ``own``."""
    return [Binding(key, f"app.main_view_key('{key}')", MAIN_VIEW_KEYS[key], show=False, system=True)
            for key in MAIN_VIEW_KEYS if key not in own]


def main_view_key_words(key: str) -> str:
    # ("esc goes back to it first" read as going back to the view the key names: walk42 D3)
    return f"{key} ({MAIN_VIEW_KEYS[key]}) works in the main view: esc first, then {key}"


class KeysPanelActions:
    """The app's ``?``: the keys panel of the view shown, or away again (a mixin before ``App``)."""

    def action_main_view_key(self, key: str) -> None:
        self.notify(main_view_key_words(key), timeout=4)

    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_show_help_panel(self) -> None:
        """Textual's keys panel less the keys that only move about, which filled it at 80x24 (Textual's own
        where its private BindingsTable moved)."""
        try:
            from .widgets.keys_panel import KeysPanel
        except ImportError:
            return super().action_show_help_panel()
        if not self.screen.query("HelpPanel"):
            self.screen.mount(KeysPanel())
