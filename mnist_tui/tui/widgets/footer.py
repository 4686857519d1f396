"""Textual's Footer, less the keys that would be cut by its right edge.

Cut, "f10 Tune" read "f1", the key of the Train view; a key that does not fit whole is left
out (the first ones, a view's own keys, stay), and every key is in the palette and in ?.
The run's keys (f6 Pause or Resume, f7 Stop), shown while a run trains, stay before any: at 80
columns the Runs view's own keys filled the line and they were left out, though they worked.
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


RUN_KEYS = ("pause", "resume", "stop")


class FittingFooter(Footer):
    _shown: tuple | None = None

    def keys_shown(self) -> tuple:
        """What compose would draw: a refresh that changes none of it leaves the keys as they are."""
        active = self.screen.active_bindings.values() if self._bindings_ready else ()
        return (self.compact, self.show_command_palette,
                *((b.key, b.description, b.action, b.group, b.show, enabled, tip) for _, b, enabled, tip in active))

    async def recompose(self) -> None:
        # Textual rebuilds every key on each refresh_bindings: while a study trained, each trial's record did,
        # and the app's loop spent a core on it (Tune, a key press took a second)
        if not self.is_attached or self._pruning:  # (its screen gone: as Textual's own recompose does)
            return
        shown = self.keys_shown()
        if shown == self._shown and self.children:
            return
        self._shown = shown
        await super().recompose()
        self.call_after_refresh(self.fit_keys)

    def on_resize(self) -> None:
        for key in self.query(FooterKey):
            key.display = True
        self.call_after_refresh(self.fit_keys)

    def fit_keys(self) -> None:
        keys = list(self.query(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        edge = min((key.region.x for key in palette), default=self.region.right)
        shown = [key for key in keys if key not in palette and key.display]
        if not shown or shown[-1].region.right <= edge:
            return
        # each key's room: to the next key (its margin included); the keys that stay close up to the left
        steps = {a: b.region.x - a.region.x for a, b in zip(shown, shown[1:])}
        room, used, full = edge - shown[0].region.x, 0, False
        for key in sorted(shown, key=lambda k: k.action.rpartition(".")[2] not in RUN_KEYS):  # (a stable sort)
            full = full or used + key.region.width > room
            key.display = not full
            used += steps.get(key, key.region.width)


__all__ = ["FittingFooter"]
