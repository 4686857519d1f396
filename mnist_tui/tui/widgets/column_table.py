"""A row-cursor DataTable whose right and left keys scroll a whole column at a time past fixed columns,
and which never shows part of a column at its right edge."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widgets import DataTable


class ColumnTable(DataTable):
    """With ``fixed_columns`` (the row labels, a run's name), → and ← bring the next or previous column to the
    left edge: a cell at a time, a column 25 cells away took 25 presses, and the labels scrolled off.

    A column cut by the right edge is left blank until it is scrolled into view: cut, the learning rate
    0.00165301 read 0.001, and a run name lost the time that told it from its neighbour. The header says
    how many columns lie beyond the right edge ("→ 1 more run") where the blank leaves room."""

    noun = "column"  # what a column holds, for the header's "→ 2 more columns"

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

    def whole_columns(self) -> tuple[int, int, int]:
        """(fixed, left, right): the fixed columns' width, and the cells from ``left`` to ``right`` that hold
        whole columns; a column cut by either edge (the right one, or the left once scrolled to the end) lies
        outside."""
        columns = list(self.columns.values())
        fixed = sum(column.get_render_width(self) for column in columns[:self.fixed_columns])
        room, x, scroll = self.size.width - fixed, 0, round(self.scroll_x)
        left, shown = 0, 0
        for column in columns[self.fixed_columns:]:
            start, x = x, x + column.get_render_width(self)
            if start < scroll:
                left = max(left, x - scroll)  # cut by the left edge: its tail is blank too
                continue
            if x - scroll > room:
                # the first column after the scroll offset stays, cut, if it alone is wider than the room
                return fixed, fixed + left, fixed + (shown or room)
            shown = x - scroll
        return fixed, fixed + left, self.size.width

    def hidden_right(self) -> int:
        """How many columns are not shown whole because they lie past the right edge."""
        columns = list(self.columns.values())
        fixed = sum(column.get_render_width(self) for column in columns[:self.fixed_columns])
        end, x = round(self.scroll_x) + self.size.width - fixed, 0
        hidden = 0
        for column in columns[self.fixed_columns:]:
            x += column.get_render_width(self)
            hidden += x > end
        return hidden

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        fixed, left, right = self.whole_columns()
        width = self.size.width
        if left <= fixed and right >= width:
            return strip
        blank = Strip.blank(left - fixed, self.rich_style)
        parts = [strip.crop(0, fixed), blank, strip.crop(left, right)]
        hidden = self.hidden_right() if y == 0 and self.show_header else 0
        hints = (f" → {hidden} more {self.noun}{'s' if hidden > 1 else ''}", f" → {hidden} more", " →")
        hint = next((h for h in hints if len(h) <= width - right), None) if hidden else None
        if hint:
            parts.append(Strip([Segment(hint, self.rich_style + Style(dim=True, italic=True))]))
        return Strip.join(parts).adjust_cell_length(width, self.rich_style)
