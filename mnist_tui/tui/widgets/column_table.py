"""A row-cursor DataTable whose right and left keys scroll a whole column at a time past fixed columns."""

from __future__ import annotations

from textual.widgets import DataTable


class ColumnTable(DataTable):
    """With ``fixed_columns`` (the row labels, a run's name), → and ← bring the next or previous column to the
    left edge: a cell at a time, a column 25 cells away took 25 presses, and the labels scrolled off."""

    def action_cursor_right(self) -> None:
        self._scroll_columns(+1)

    def action_cursor_left(self) -> None:
        self._scroll_columns(-1)

    def _scroll_columns(self, direction: int) -> None:
        starts, x = [0], 0
        for column in list(self.columns.values())[self.fixed_columns:-1]:
            x += column.get_render_width(self)
            starts.append(x)
        ahead = [s for s in starts if s > self.scroll_x] if direction > 0 else [s for s in starts if s < self.scroll_x]
        if ahead:
            self.scroll_to(x=min(ahead) if direction > 0 else max(ahead), animate=False)
