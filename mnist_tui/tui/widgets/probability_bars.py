"""Draw's reading: ten rows ``name ████▌ 97.1%``, the most probable class highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ...core.config import CLASS_NAMES
from ...core.formatting import short_percent
from .digit_art import probability_bar


class ProbabilityBars(Widget):
    """Ten rows ``name ████▌ 97.1%``; the most probable class is highlighted."""

    DEFAULT_CSS = """
    ProbabilityBars { height: 10; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.names: tuple[str, ...] = CLASS_NAMES["mnist"]
        self.probabilities: list[float] | None = None

    def show(self, probabilities: list[float] | None, names: tuple[str, ...] | None = None) -> None:
        if names is not None:
            self.names = names
        self.probabilities = probabilities
        self.refresh()

    def render(self) -> Text:
        label_width = max(len(name) for name in self.names)
        bar_width = max(4, self.size.width - label_width - 8)
        best = None if not self.probabilities else max(range(len(self.probabilities)),
                                                        key=self.probabilities.__getitem__)
        lines = []
        for index, name in enumerate(self.names):
            p = self.probabilities[index] if self.probabilities else 0.0
            top = index == best
            line = Text(f"{name:>{label_width}} ", style="bold" if top else "")
            line.append(probability_bar(p, bar_width), style="bold #ffaf00" if top else "#5f87af")
            line.append(f" {short_percent(p):>6}" if self.probabilities else "      -", style="bold" if top else "")
            lines.append(line)
        return Text("\n").join(lines)


__all__ = ["ProbabilityBars"]
