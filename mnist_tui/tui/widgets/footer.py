"""Textual's Footer, less the keys that would be cut by its right edge.

Cut, "f10 Tune" read "f1", the key of the Train view; a key that does not fit whole is left
out (the first ones, a view's own keys, stay), and every key is in the palette and in ?.
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class FittingFooter(Footer):
    async def recompose(self) -> None:
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
        for key in keys:
            if key not in palette and key.display and key.region.right > edge:
                key.display = False


__all__ = ["FittingFooter"]
