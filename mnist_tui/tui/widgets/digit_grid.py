"""A grid of misclassified digits that draws only the page in view, and a detail panel."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ...core.formatting import short_percent, whole_percent
from .digit_art import caption, digit_text, half_size, large_digit_lines, probability_bar

CARD_WIDTH = 28
CARD_HEIGHT = 15  # caption + 14 rows of art
SMALL_CARD = (14, 8)  # z: half-size digits, caption + 7 rows (6 a page at 80x24, where 2 were)
GAP = 1
GRID_KEYS = "e why n near M map"
PANEL_KEYS = "←→ digit esc back"  # while Why or Nearest is open


class DigitGrid(Widget, can_focus=True):
    """Cards of ``Misclassified`` examples; arrows and page keys move the selection."""

    DEFAULT_CSS = """
    DigitGrid { height: 1fr; width: 1fr; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", "move_rows(-1)", "Up", show=False),
        Binding("down", "move_rows(1)", "Down", show=False),
        Binding("pageup", "move_pages(-1)", "Page up", show=False),
        Binding("pagedown", "move_pages(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
    ]

    selected: reactive[int] = reactive(0)
    # half-size cards (more digits a page, less detail); None: those where a page holds a single row of large ones
    # (at 80x24 one row of two digits stood over eight blank lines, walk36 F8), z sets it either way
    small: reactive[bool | None] = reactive(None)

    class Highlighted(Message):
        """The selection moved to ``example`` (None when the grid is empty)."""

        def __init__(self, grid: DigitGrid, example: Any | None) -> None:
            super().__init__()
            self.grid = grid
            self.example = example

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.examples: list[Any] = []
        self.images: Any = None
        self.empty_message = "Nothing to show yet."
        self.flagged: set[int] = set()  # indices badged as suspected label errors
        self._art_cache: dict[int, list[Text]] = {}

    def set_examples(self, examples: list[Any], images: Any, empty_message: str = "") -> None:
        if images is not self.images:
            self._art_cache.clear()
        self.examples = examples
        self.images = images
        if empty_message:
            self.empty_message = empty_message
        self.selected = 0
        self.mutate_reactive(DigitGrid.selected)
        self.refresh()

    @property
    def current(self) -> Any | None:
        return self.examples[self.selected] if self.examples else None

    @property
    def card(self) -> tuple[int, int]:
        """(width, height) of a card: its caption and its art."""
        return SMALL_CARD if self.is_small else (CARD_WIDTH, CARD_HEIGHT)

    @property
    def is_small(self) -> bool:
        return self.small if self.small is not None else 0 < self.size.height < 2 * CARD_HEIGHT + GAP

    def layout_counts(self) -> tuple[int, int]:
        """(columns, rows) of cards that fit the widget's size."""
        width, height = self.card
        columns = max(1, (self.size.width + GAP) // (width + GAP))
        rows = max(1, (self.size.height + GAP) // (height + GAP))
        return columns, rows

    def watch_small(self) -> None:
        self.refresh()

    def watch_selected(self, selected: int) -> None:
        self.post_message(self.Highlighted(self, self.current))
        self.refresh()

    def _clamp(self, index: int) -> int:
        return max(0, min(len(self.examples) - 1, index)) if self.examples else 0

    def action_move(self, delta: int) -> None:
        self.selected = self._clamp(self.selected + delta)

    def action_move_rows(self, delta: int) -> None:
        self.selected = self._clamp(self.selected + delta * self.layout_counts()[0])

    def action_move_pages(self, delta: int) -> None:
        columns, rows = self.layout_counts()
        self.selected = self._clamp(self.selected + delta * columns * rows)

    def action_move_to(self, index: int) -> None:
        self.selected = self._clamp(index if index >= 0 else len(self.examples) - 1)

    def _art(self, index: int) -> list[Text]:
        key = -1 - index if self.is_small else index
        if key not in self._art_cache:
            if len(self._art_cache) > 256:
                self._art_cache.clear()
            self._art_cache[key] = digit_text(half_size(self.images[index]) if self.is_small else self.images[index])
        return self._art_cache[key]

    def render(self) -> Text:
        if not self.examples:
            return Text(self.empty_message, style="italic")
        columns, rows = self.layout_counts()
        per_page = columns * rows
        start = (self.selected // per_page) * per_page
        page = self.examples[start:start + per_page]
        out = Text(no_wrap=True, overflow="crop")
        width, height = self.card
        blank = " " * width
        for row in range(rows):
            cards = page[row * columns:(row + 1) * columns]
            if not cards:
                break
            if row:
                out.append("\n")
            for column, example in enumerate(cards):
                if column:
                    out.append(" " * GAP)
                chosen = start + row * columns + column == self.selected
                label = caption(example.index, example.true_label, example.predicted_label, example.confidence, width)
                if example.index in self.flagged:  # suspected label error (a small card: the flag alone)
                    label = (label.rstrip() + (" ⚑label?" if width == CARD_WIDTH else "⚑"))[:width].ljust(width)
                style = "bold reverse" if chosen else "bold"
                if chosen and not self.has_focus:
                    style = "bold underline"
                out.append(label, style)
            for line in range(height - 1):
                out.append("\n")
                for column, example in enumerate(cards):
                    if column:
                        out.append(" " * GAP)
                    art = self._art(example.index)
                    out.append_text(art[line]) if line < len(art) else out.append(blank)
            out.append("\n")
        return out

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class DigitDetail(Widget):
    """The selected digit: labels, confidence, top-3 probabilities as bars, and the art if it fits."""

    DEFAULT_CSS = """
    DigitDetail { width: 22; height: 1fr; padding: 0 1; border-left: vkey $foreground 30%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.example: Any | None = None
        self.pixels: Any = None
        self.class_names: tuple[str, ...] | None = None
        self.label_issue: Any | None = None  # a core.label_errors.LabelIssue for this digit, if flagged
        self.keys = GRID_KEYS  # the keys line: the grid's, or the open panel's
        self.tta = False  # the evaluation averaged each digit's shifts: its confidence says so

    def show(self, example: Any | None, pixels: Any = None, class_names: tuple[str, ...] | None = None,
             label_issue: Any | None = None) -> None:
        self.example = example
        self.pixels = pixels
        self.class_names = class_names
        self.label_issue = label_issue
        self.refresh()

    def render(self) -> Text:
        example = self.example
        if example is None:
            return Text("No digit selected.", style="italic")
        width = max(8, self.size.width)
        bar_width = max(4, width - 8)
        out = Text(no_wrap=True, overflow="crop")
        out.append(f"digit #{example.index}\n", "bold")
        out.append("true ")
        out.append(str(example.true_label), "bold green")
        out.append(" pred ")
        out.append(str(example.predicted_label), "bold red")
        confidence = short_percent(example.confidence)  # (a TTA run's, in the panel's 19 columns: not wrapped)
        out.append(f"\nconf. {confidence} (TTA)\n" if self.tta else f"\nconfidence {confidence}\n")
        out.append(f"{self.keys}\n", "dim")
        names = self.class_names
        named = names is not None and any(name != str(i) for i, name in enumerate(names))
        if named:  # Fashion-MNIST, KMNIST: what the two labels mean
            out.append(names[example.true_label], "green")
            out.append(" → ")
            out.append(f"{names[example.predicted_label]}\n", "red")
        for label, probability in example.top3:
            style = "green" if label == example.true_label else ("red" if label == example.predicted_label else "")
            out.append(f"{label} ", style or "bold")
            out.append(probability_bar(probability, bar_width), style or "")
            out.append(f"{whole_percent(probability):>5}\n")
        used = 5 + len(example.top3) + (1 if named else 0)
        if self.label_issue is not None:
            out.append("⚑ label looks wrong\n", "bold yellow")  # confident learning flags it
            out.append(f"model says {self.label_issue.suggested_label}\n")
            used += 2
        if self.pixels is not None:
            if width >= 56 and self.size.height - used >= 28:
                out.append("\n")
                for line in large_digit_lines(self.pixels):
                    out.append(line + "\n", "white on black")
            elif width >= 28 and self.size.height - used >= 15:
                out.append("\n")
                for line in digit_text(self.pixels):
                    out.append_text(line)
                    out.append("\n")
        return out
