"""Why a digit was misread: its attribution maps, or the training digits nearest to it.

The pane computes in a worker and hands plain values here; this widget only draws
(no torch). Maps are 28 columns wide each; neighbours are drawn at half size
(14 columns by 7 rows) so eight of them fit an 80-column terminal.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget

from ...core.formatting import short_percent
from .attribution_art import (LEGEND_MARKUP, LEGEND_SHORT_MARKUP, attribution_text, map_scale, shown_columns,
                              side_by_side)
from .digit_art import digit_text, half_size

SMALL = 14  # columns of a half-size digit
METHOD_TITLES = {"ig": "integrated gradients", "occlusion": "occlusion"}
SHORT_METHOD_TITLES = {"ig": "int. gradients"}  # where the whole header does not fit (58 columns at 80)


ALIKE = ("This network gives every training digit the same features (it learned nothing it kept): no digit is "
         "nearer than another, so there are no nearest digits to show.")
NO_TRAINING_SET = ("The nearest training digits need the training set, which is not on disk: "
                   "start the app with --data-dir (or MNIST_TUI_DATA) pointing at it.")


@dataclass(frozen=True)
class ExplainView:
    index: int
    label: int | None
    prediction: int
    probabilities: list[float]
    method: str
    classes: list[int]
    maps: list[Any]  # one 28x28 map per class
    pixels: Any
    tta: bool = False  # predicted as a TTA run tests (its 1-pixel shifts averaged)


@dataclass(frozen=True)
class DrawingExplainView:
    """Maps for a drawing (Draw's model input): the predicted class, then the meant one or the runner-up."""

    prediction: int
    meant: int | None  # the digit the user said they meant, if any
    probabilities: list[float]
    method: str
    classes: list[int]
    maps: list[Any]
    pixels: Any  # the 28x28 model input
    names: tuple[str, ...] | None = None  # class names when they are not the digits


@dataclass(frozen=True)
class NeighboursView:
    index: int
    label: int | None
    prediction: int
    pixels: Any
    neighbours: list[tuple[int, int, float, Any]]  # (training index, label, distance, pixels)


class InsightPanel(Widget):
    """Shows an :class:`ExplainView`, a :class:`NeighboursView` or a one-line message."""

    DEFAULT_CSS = """
    InsightPanel { height: 1fr; width: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content: ExplainView | DrawingExplainView | NeighboursView | str = ""

    def show(self, content: ExplainView | DrawingExplainView | NeighboursView | str) -> None:
        self.content = content
        self.refresh()

    def render(self) -> Text:
        content = self.content
        if isinstance(content, str):  # a message: wrapped here, as the panel itself never wraps (art)
            width = max(self.size.width, 20)
            return Text("\n".join(textwrap.fill(part, width) for part in content.split("\n")), style="italic")
        if isinstance(content, ExplainView):
            return self._explain(content)
        if isinstance(content, DrawingExplainView):
            return self._drawing_explain(content)
        return self._neighbours(content)

    def _explain(self, view: ExplainView) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        head = f"predicted {view.prediction}" if view.label is None else f"label {view.label} → {view.prediction}"
        head += " TTA" * view.tta  # the prediction the run's test made, as the list shows it
        names = (METHOD_TITLES.get(view.method, view.method), SHORT_METHOD_TITLES.get(view.method, view.method))
        headers = [f"#{view.index} {head} · {name} · m method · e back" for name in names]
        headers.append(headers[-1].replace(" label ", " ", 1))  # "#9729 5 → 6 TTA", as the list writes it
        # a space before the panel's edge: it ran into the detail's border (walk32 F7)
        out.append(next((h for h in headers if len(h) < (self.size.width or 58)), headers[-1]) + "\n", "bold")
        titles = []
        for c in view.classes:
            role = "predicted" if c == view.prediction else ("label" if c == view.label else "runner-up")
            titles.append(f"{role} {c} ({short_percent(view.probabilities[c])})"[:28].ljust(28))
        gap = 3 if self.size.width >= 59 else 1  # two maps fit a 58-column panel (80 minus the detail)
        out.append((" " * gap).join(titles) + "\n")
        scale = map_scale(*view.maps)
        for line in side_by_side([attribution_text(view.pixels, m, scale) for m in view.maps], gap):
            out.append_text(line)
            out.append("\n")
        out.append_text(Text.from_markup(LEGEND_MARKUP))
        return out

    def _drawing_explain(self, view: DrawingExplainView) -> Text:
        """Two maps side by side; in a panel narrower than 57 columns each is cropped to what it shows."""
        out = Text(no_wrap=True, overflow="crop")
        width = self.size.width or 57
        scale = map_scale(*view.maps)
        if width >= 2 * 28 + 1:
            columns, gap = None, 3 if width >= 2 * 28 + 3 else 1
        else:
            columns, gap = shown_columns(view.pixels, view.maps, max(8, (width - 1) // 2), scale), 1
        map_width = 28 if columns is None else columns[1] - columns[0]

        def name(c: int) -> str:
            return f"{c} {view.names[c]}" if view.names and view.names[c] != str(c) else str(c)

        out.append(f"why · {METHOD_TITLES.get(view.method, view.method)} · m method\n", "bold")
        titles = []
        for c in view.classes:
            role = "predicted" if c == view.prediction else ("meant" if c == view.meant else "runner-up")
            # narrow maps drop words before the figure is cut: "97%" cut to "9" reads as a digit
            shown = short_percent(view.probabilities[c])  # as the panels beside it: ">99.9%", not "99%"
            title = next((t for t in (f"{role} {name(c)} {shown}", f"{name(c)} {shown}", f"{c} {shown}")
                          if len(t) <= map_width), f"{c}")
            titles.append(title[:map_width].ljust(map_width))
        out.append((" " * gap).join(titles) + "\n")
        for line in side_by_side([attribution_text(view.pixels, m, scale, columns) for m in view.maps], gap):
            out.append_text(line)
            out.append("\n")
        out.append_text(Text.from_markup(LEGEND_MARKUP if width >= 58 else LEGEND_SHORT_MARKUP))
        out.append("\n0-9: the digit you meant · e: hide", "dim")
        return out

    def _neighbours(self, view: NeighboursView) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        head = f"predicted {view.prediction}" if view.label is None else f"label {view.label} → {view.prediction}"
        neighbours = [(f"{label} d{distance:.1f} #{index}", pixels) for index, label, distance, pixels in view.neighbours]
        width = max(self.size.width, SMALL)
        gap = 1 if width >= 4 * SMALL + 3 else 0  # four to a row in 58 columns (80 minus the detail panel)
        per_row = max(1, (width + gap) // (SMALL + gap))
        card_height = 8  # caption + 7 rows of half-size art

        # the digit itself leads, and the neighbours fill the rows that fit (at 80x24, two rows of four: the
        # eighth neighbour gives way; the digit went instead, and the detail panel only names it in words)
        rows = max(1, (max(self.size.height, 1) - 1) // card_height)
        cards = ([("this digit", view.pixels)] + neighbours)[:max(2, rows * per_row)]
        shown = len(cards) - 1  # the cards left out were said nowhere: "7 of the 8 nearest" says so
        count = f"the {shown} nearest" if shown == len(neighbours) else f"{shown} of the {len(neighbours)} nearest"
        title = f"#{view.index} {head} · {count} training digits"
        out.append(title + (" · n back" if len(title) + 9 <= width else "") + "\n", "bold")
        for start in range(0, len(cards), per_row):
            row = cards[start:start + per_row]
            out.append((" " * gap).join(caption[:SMALL].ljust(SMALL) for caption, _ in row) + "\n")
            arts = [digit_text(half_size(pixels)) for _, pixels in row]
            for line in range(len(arts[0])):
                for k, art in enumerate(arts):
                    if k and gap:
                        out.append(" " * gap)
                    out.append_text(art[line])
                out.append("\n")
        if self.size.height > 1 + card_height * -(-len(cards) // per_row):  # a spare line: what a caption says
            out.append("caption: label, d distance, #index in the training set", "dim")
        return out
