"""Why a digit was misread: its attribution maps, or the training digits nearest to it.

The pane computes in a worker and hands plain values here; this widget only draws
(no torch). Maps are 28 columns wide each; neighbours are drawn at half size
(14 columns by 7 rows) so eight of them fit an 80-column terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget

from .attribution_art import LEGEND_MARKUP, attribution_text, map_scale, side_by_side
from .digit_art import digit_text, pixel_rows

SMALL = 14  # columns of a half-size digit
METHOD_TITLES = {"ig": "integrated gradients", "occlusion": "occlusion"}


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


@dataclass(frozen=True)
class NeighboursView:
    index: int
    label: int | None
    prediction: int
    pixels: Any
    neighbours: list[tuple[int, int, float, Any]]  # (training index, label, distance, pixels)


def half_size(pixels: Any) -> list[list[int]]:
    """28x28 -> 14x14 by the brightest pixel of each 2x2 block (thin strokes survive)."""
    rows = pixel_rows(pixels)
    return [[max(rows[y][x], rows[y][x + 1], rows[y + 1][x], rows[y + 1][x + 1]) for x in range(0, len(rows[0]) - 1, 2)]
            for y in range(0, len(rows) - 1, 2)]


class InsightPanel(Widget):
    """Shows an :class:`ExplainView`, a :class:`NeighboursView` or a one-line message."""

    DEFAULT_CSS = """
    InsightPanel { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content: ExplainView | NeighboursView | str = ""

    def show(self, content: ExplainView | NeighboursView | str) -> None:
        self.content = content
        self.refresh()

    def render(self) -> Text:
        content = self.content
        if isinstance(content, str):
            return Text(content, style="italic")
        if isinstance(content, ExplainView):
            return self._explain(content)
        return self._neighbours(content)

    def _explain(self, view: ExplainView) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        given = "" if view.label is None else f" label {view.label} ·"
        out.append(f"#{view.index}{given} predicted {view.prediction} · {METHOD_TITLES.get(view.method, view.method)}"
                   " · e: back, m: method\n", "bold")
        titles = []
        for c in view.classes:
            role = "predicted" if c == view.prediction else ("label" if c == view.label else "runner-up")
            titles.append(f"{role} {c} ({view.probabilities[c]:.0%})"[:28].ljust(28))
        out.append("   ".join(titles) + "\n")
        scale = map_scale(*view.maps)
        for line in side_by_side([attribution_text(view.pixels, m, scale) for m in view.maps]):
            out.append_text(line)
            out.append("\n")
        out.append_text(Text.from_markup(LEGEND_MARKUP))
        return out

    def _neighbours(self, view: NeighboursView) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        given = "" if view.label is None else f" label {view.label}"
        out.append(f"#{view.index}{given} predicted {view.prediction} · nearest training digits · n: back\n", "bold")
        cards = [("this digit", view.pixels)]
        cards += [(f"{label} d{distance:.1f} #{index}", pixels) for index, label, distance, pixels in view.neighbours]
        per_row = max(1, (max(self.size.width, SMALL) + 1) // (SMALL + 1))
        for start in range(0, len(cards), per_row):
            row = cards[start:start + per_row]
            out.append(" ".join(caption[:SMALL].ljust(SMALL) for caption, _ in row) + "\n",
                       "bold" if start == 0 else "")
            arts = [digit_text(half_size(pixels)) for _, pixels in row]
            for line in range(len(arts[0])):
                for k, art in enumerate(arts):
                    if k:
                        out.append(" ")
                    out.append_text(art[line])
                out.append("\n")
        return out
