"""A scatter of 2-D points (a digit map) drawn as text, with a keyboard and mouse cursor.

Each cell shows the most common class among the points in it, as that digit in the
class's colour, so the map reads without colour too; a cell holding a misclassified
digit shows ``x``. The cursor is a cell; the selected point is the one nearest to it.
"""

from __future__ import annotations

from collections import Counter

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

# ten colours, each a colour of xterm's 256 (so a 256-colour tmux shows them as they are), light enough for a
# dark background. Named ANSI colours are not used: Textual paints them in its theme's ANSI colours, where
# red, magenta and bright red are one colour (and green/bright green, blue/bright blue).
CLASS_COLOURS = ("#ff5f5f", "#ffaf00", "#ffff5f", "#5fd75f", "#00d7d7", "#5fafff", "#af87ff", "#ff87d7",
                 "#d7af87", "#bcbcbc")
WRONG = Style(color="bright_white", bold=True)
CURSOR = Style(reverse=True, bold=True)


class DigitMap(Widget, can_focus=True):
    """Points ``xy`` with ``labels`` and ``predictions``; arrows move, x goes to the next wrong one, enter chooses."""

    DEFAULT_CSS = """
    DigitMap { width: 1fr; height: 1fr; }
    """
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("shift+left", "move(-5, 0)", "Left 5 cells", show=False),
        Binding("shift+right", "move(5, 0)", "Right 5 cells", show=False),
        Binding("shift+up", "move(0, -5)", "Up 5 cells", show=False),
        Binding("shift+down", "move(0, 5)", "Down 5 cells", show=False),
        Binding("enter", "choose", "Open"),
        # arrowing about 10,000 points landed on digits read right nearly every time
        Binding("x", "next_wrong(1)", "Next wrong"),
        Binding("X", "next_wrong(-1)", "Previous wrong", show=False),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0))

    class Selected(Message):
        """The point nearest the cursor changed (``index`` into the points, or None)."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

    class Chosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.xy: list[tuple[float, float]] = []
        self.labels: list[int] = []
        self.predictions: list[int] = []
        self.selected: int | None = None
        self._cells: dict[tuple[int, int], list[int]] = {}
        self._laid_out_for: tuple[int, int] = (0, 0)
        self._centred = False  # the cursor starts once the widget has a size: on ``start``, else mid-map
        self.start: int | None = None  # the point the cursor starts on (the digit being looked at)

    def set_points(self, xy: list[tuple[float, float]], labels: list[int], predictions: list[int]) -> None:
        self.xy, self.labels, self.predictions = xy, labels, predictions
        self._laid_out_for = (0, 0)
        self._layout()
        self.cursor = self._start_cell()
        self.mutate_reactive(DigitMap.cursor)

    def _start_cell(self) -> tuple[int, int]:
        if self.start is not None and 0 <= self.start < len(self.xy):
            return self._to_cell(*self.xy[self.start])
        width, height = self._grid_size()
        return width // 2, height // 2

    def _grid_size(self) -> tuple[int, int]:
        return max(1, self.size.width), max(1, self.size.height)

    def _to_cell(self, x: float, y: float) -> tuple[int, int]:
        width, height = self._grid_size()
        (x0, x1), (y0, y1) = self._bounds
        col = int((x - x0) / (x1 - x0 or 1) * (width - 1) + 0.5)
        row = int((y1 - y) / (y1 - y0 or 1) * (height - 1) + 0.5)  # y grows upwards
        return col, row

    def _layout(self) -> None:
        """Bin the points into the cells of the current size (again after a resize)."""
        if self._laid_out_for == self._grid_size() or not self.xy:
            return
        xs, ys = [p[0] for p in self.xy], [p[1] for p in self.xy]
        self._bounds = ((min(xs), max(xs)), (min(ys), max(ys)))
        self._cells = {}
        for i, (x, y) in enumerate(self.xy):
            self._cells.setdefault(self._to_cell(x, y), []).append(i)
        self._laid_out_for = self._grid_size()

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        width, height = self._grid_size()
        if not self._centred and width > 1 and height > 1:
            self._centred = True
            self.cursor = self._start_cell()
        elif self.selected is not None:  # the same digit, in its cell at the new size: the cursor's old cell
            # (opening the keys panel narrows the map) held another digit, mostly one read right
            self.start = self.selected
            self.cursor = self._start_cell()
        else:
            self.cursor = (min(self.cursor[0], width - 1), min(self.cursor[1], height - 1))
        self.watch_cursor(self.cursor)

    def nearest_to_cursor(self) -> int | None:
        """The point in the cursor's cell (a misclassified one first: the cell shows ``x`` for it),
        else the one nearest to it (in cells)."""
        if not self.xy:
            return None
        self._layout()
        col, row = self.cursor
        here = self._cells.get((col, row))
        if here:
            return self.start if self.start in here else next(
                (i for i in here if self.labels[i] != self.predictions[i]), here[0])
        best, best_d = None, float("inf")
        for (c, r), members in self._cells.items():
            d = (c - col) ** 2 + ((r - row) * 2) ** 2  # a cell is about twice as tall as wide
            if d < best_d:
                best, best_d = members[0], d
        return best

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        self.selected = self.nearest_to_cursor()
        self.post_message(self.Selected(self.selected))
        self.refresh()

    def action_move(self, dx: int, dy: int) -> None:
        width, height = self._grid_size()
        col, row = self.cursor
        self.cursor = (max(0, min(width - 1, col + dx)), max(0, min(height - 1, row + dy)))

    def action_next_wrong(self, step: int) -> None:
        """The next (``step`` 1) or previous wrong digit, by its cell in reading order, round again: each of a
        cell's wrong digits in turn (stepping by cells, one of two in a cell was never reached)."""
        self._layout()
        wrong = sorted((row, col, i) for (col, row), members in self._cells.items() for i in members
                       if self.labels[i] != self.predictions[i])
        if not wrong:
            self.notify("No digit on this map is read wrong.")
            return
        here = (self.cursor[1], self.cursor[0], -1 if self.selected is None else self.selected)
        if step > 0:
            row, col, self.start = next((w for w in wrong if w > here), wrong[0])
        else:
            row, col, self.start = next((w for w in reversed(wrong) if w < here), wrong[-1])
        if self.cursor == (col, row):  # another of this cell's digits: the cursor stays, the selection moves
            self.watch_cursor(self.cursor)
        self.cursor = (col, row)

    def action_choose(self) -> None:
        if self.selected is not None:
            self.post_message(self.Chosen(self.selected))

    def on_click(self, event: events.Click) -> None:
        self.cursor = (event.x, event.y)
        self.focus()

    def render(self) -> Text:
        if not self.xy:
            return Text("No points yet.", style="italic")
        self._layout()
        width, height = self._grid_size()
        out = Text(no_wrap=True, overflow="crop")
        for row in range(height):
            if row:
                out.append("\n")
            for col in range(width):
                members = self._cells.get((col, row))
                style = CURSOR if (col, row) == self.cursor else None
                if not members:
                    out.append("+" if style else " ", style or "")
                    continue
                if any(self.labels[i] != self.predictions[i] for i in members):
                    out.append("x", style or WRONG)
                    continue
                label = Counter(self.labels[i] for i in members).most_common(1)[0][0]
                out.append(str(label), style or Style(color=CLASS_COLOURS[label]))
        return out
