"""The Map: every test digit placed by its penultimate-layer features (PCA to 2-D).

Opened from Misclassified (``M``). Arrows (shift: 5 cells) or the mouse move the cursor;
the digit nearest to it is drawn on the right with its labels; enter opens it in
Misclassified (escape returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..widgets.digit_art import digit_text
from ..widgets.digit_map import CLASS_COLOURS, DigitMap


@dataclass(frozen=True)
class MapData:
    xy: list[tuple[float, float]]
    labels: list[int]
    predictions: list[int]
    images: Any  # uint8 [N, 28, 28], indexed like the points
    explained: tuple[float, float]
    source: str


def legend() -> Text:
    text = Text(no_wrap=True, overflow="crop")
    for label, colour in enumerate(CLASS_COLOURS):
        text.append(str(label), colour)
    text.append(" x", "bold")
    text.append(" wrong")
    return text


class MapScreen(Screen[int | None]):
    """Dismissed with the chosen digit's index, or None (escape)."""

    DEFAULT_CSS = """
    MapScreen #map-title { height: 1; }
    MapScreen #map-side { width: 30; padding: 0 1; border-left: vkey $foreground 30%; }
    """
    BINDINGS = [Binding("escape", "dismiss_map", "Back")]

    def __init__(self, data: MapData) -> None:
        super().__init__()
        self.data = data

    def compose(self) -> ComposeResult:
        wrong = sum(1 for t, p in zip(self.data.labels, self.data.predictions) if t != p)
        yield Static(f"[b]Map[/] of {len(self.data.labels):,} test digits ({wrong} wrong) · {self.data.source} · "
                     f"PCA {self.data.explained[0]:.0%}+{self.data.explained[1]:.0%}", id="map-title")
        with Horizontal():
            yield DigitMap(id="digit-map")
            yield Static(id="map-side")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        digit_map = self.query_one(DigitMap)
        digit_map.set_points(self.data.xy, self.data.labels, self.data.predictions)
        digit_map.focus()

    def on_digit_map_selected(self, message: DigitMap.Selected) -> None:
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(legend())
        out.append("\n")
        if message.index is not None:
            i = message.index
            label, prediction = self.data.labels[i], self.data.predictions[i]
            out.append(f"digit #{i}\n", "bold")
            out.append("true ")
            out.append(str(label), f"bold {CLASS_COLOURS[label]}")
            out.append(" pred ")
            out.append(str(prediction), f"bold {CLASS_COLOURS[prediction]}")
            out.append("  wrong\n" if label != prediction else "\n", "bold")
            for line in digit_text(self.data.images[i]):
                out.append_text(line)
                out.append("\n")
            out.append("enter: open in Misclassified" if label != prediction else "enter: show it", "dim")
        self.query_one("#map-side", Static).update(out)

    def on_digit_map_chosen(self, message: DigitMap.Chosen) -> None:
        self.dismiss(message.index)

    def action_dismiss_map(self) -> None:
        self.dismiss(None)
