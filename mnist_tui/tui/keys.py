"""Keys the pushed views share, and ``?`` (the keys panel) for the app."""

from __future__ import annotations

from textual.binding import Binding

# ctrl+q quits from every view (the app's own binding still runs it), but a view's footer keeps its room
# for the view's keys and the run's (f6 Pause, f7 Stop while a run trains): "esc Back" is the way out shown
QUIT_NOT_SHOWN = Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True)


class KeysPanelActions:
    """The app's ``?``: the keys panel of the view shown, or away again (a mixin before ``App``)."""

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
