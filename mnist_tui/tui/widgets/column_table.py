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
    selectable = True  # False: enter does nothing here, and the keys panel does not offer "⏎ Select"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor" and not self.selectable:
            return False
        return super().check_action(action, parameters)

    @property
    def max_scroll_x(self) -> int:
        """Far enough for a column's start: scrolled to the end, the column cut by the left edge was blanked,
        a hole between the labels and the last runs (walk31 F6); now the last runs sit by the labels."""
        end = super().max_scroll_x
        if end <= 0 or not self.fixed_columns:
            return end
        x = 0
        for column in list(self.columns.values())[self.fixed_columns:]:
            if x >= end:
                return x
            x += column.get_render_width(self)
        return end

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

    def whole_columns(self, scroll: int | None = None) -> tuple[int, int, int, int]:
        """(fixed, left, right, hidden), scrolled to ``scroll`` (where it is now by default): the fixed columns'
        width, the cells from ``left`` to ``right`` that hold whole columns, and how many columns lie past the
        right edge. A column cut by either edge (the right one, or the left once scrolled to the end) lies
        outside; with columns hidden, the last one shown also goes where the header would have no room left for
        its " →" (a default run name at 80 columns left none, and nothing said that time and date were there)."""
        columns = list(self.columns.values())
        fixed = sum(column.get_render_width(self) for column in columns[:self.fixed_columns])
        room, x = self.scrollable_content_region.width - fixed, 0
        scroll = round(self.scroll_x) if scroll is None else scroll
        left, ends = 0, [0]  # where each whole column shown ends
        hidden = 0
        for column in columns[self.fixed_columns:]:
            start, x = x, x + column.get_render_width(self)
            if start < scroll:
                left = max(left, x - scroll)  # cut by the left edge: its tail is blank too
            elif hidden or x - scroll > room:
                hidden += 1
            else:
                ends.append(x - scroll)
        if len(ends) == 1 and hidden:  # the first column, wider than the room alone: shown cut, not "more" (walk39 F5)
            hidden -= 1
        if not hidden:
            return fixed, fixed + left, self.scrollable_content_region.width, 0
        if self.show_header and room - ends[-1] < len(" →") and len(ends) > 2 and not self._hints_in_head(hidden):
            ends.pop()  # (the row labels' blank header holds the hint where it fits: a whole column was lost to it)
            hidden += 1
        # the first column after the scroll offset stays, cut, if it alone is wider than the room
        return fixed, fixed + left, fixed + (ends[-1] or room), hidden

    def reveal_column(self, key: str) -> None:
        """Scroll sideways, as little as it takes, to show column ``key`` whole (a fixed one always shows)."""
        columns = list(self.columns.values())[self.fixed_columns:]
        starts = [sum(c.get_render_width(self) for c in columns[:i]) for i in range(len(columns))]
        index = next((i for i, column in enumerate(columns) if column.key.value == key), None)
        if index is None:
            return
        start, end = starts[index], starts[index] + columns[index].get_render_width(self)

        def shows(scroll: int) -> bool:
            fixed, left, right, _ = self.whole_columns(scroll)
            return fixed + start - scroll >= left and fixed + end - scroll <= right

        scroll = round(self.scroll_x)
        if not shows(scroll):
            target = start if start < scroll else next((s for s in starts if s > scroll and shows(s)), start)
            self.scroll_to(x=target, animate=False, immediate=True)

    def _hints(self, hidden: int) -> tuple[str, ...]:
        """" → 2 more runs", shorter where that does not fit."""
        return f" → {hidden} more {self.noun}{'s' if hidden > 1 else ''}", f" → {hidden} more", " →"

    def _hints_in_head(self, hidden: int, scrolled: bool = True) -> list[str]:
        """The hints that fit the fixed columns' header where it is blank (the row labels'): "1 more run →",
        "← 1 more run →" once columns are scrolled past too."""
        fixed = list(self.columns.values())[:self.fixed_columns]
        if not fixed or any(str(column.label).strip() for column in fixed):
            return []
        room = sum(column.get_render_width(self) for column in fixed) - 1
        hints = (f"{hidden} more {self.noun}{'s' if hidden > 1 else ''} → ", f"{hidden} more → ", "→ ")
        return [("← " if scrolled else "") + hint for hint in hints if len(hint) + 2 * scrolled <= room]

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        fixed, left, right, hidden = self.whole_columns()
        width = self.scrollable_content_region.width
        header = y == 0 and self.show_header
        scrolled = header and round(self.scroll_x) > 0 and fixed >= 2 and not strip.crop(fixed - 2, fixed).text.strip()
        if left <= fixed and right >= width and not scrolled and not hidden:
            return strip
        # columns scrolled past on the left: a "←" at the end of the fixed columns' header, where it is blank
        hint = next((h for h in self._hints(hidden) if len(h) <= width - right), None) if hidden and header else None
        in_head = next(iter(self._hints_in_head(hidden, scrolled)), None) if hidden and header and not hint else None
        head = strip.crop(0, fixed - (2 if scrolled and not in_head else 0) - len(in_head or ""))
        if in_head:
            head = Strip.join([head, Strip([Segment(in_head, self.rich_style + Style(dim=True, italic=True))])])
        elif scrolled:
            head = Strip.join([head, Strip([Segment(" ←", self.rich_style + Style(dim=True))])])
        parts = [head, Strip.blank(left - fixed, self.rich_style), strip.crop(left, right)]
        if hint:
            parts.append(Strip([Segment(hint, self.rich_style + Style(dim=True, italic=True))]))
        return Strip.join(parts).adjust_cell_length(width, self.rich_style)
