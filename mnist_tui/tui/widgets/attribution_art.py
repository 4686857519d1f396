"""Attribution maps over a digit as terminal text (Rich only, no Textual, no torch).

Like :mod:`digit_art`, two image rows share a cell: the cell is an upper half block
whose foreground is the top pixel's colour and whose background is the bottom one's.
Each pixel is red if it pushed towards the class, blue if against it (bright when
strong), else grey where there is ink, else black. Red, blue and grey stay distinct
in a 16-colour palette. Without colour, :func:`attribution_plain` draws the same
map with one character per pixel.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

from .digit_art import GREYS, THRESHOLD, pixel_rows

TOP, BOTTOM = "▀", "▄"
WEAK, STRONG = 0.15, 0.45  # fractions of the largest |attribution| shown
FOR_STRONG, FOR_WEAK = "#ff3030", "#a00000"
AGAINST_STRONG, AGAINST_WEAK = "#40a0ff", "#0050b0"
BLACK = "#000000"
LEGEND_MARKUP = (f"[{FOR_STRONG}]■[/] towards the class [{AGAINST_STRONG}]■[/] against it "  # (58 wide, it ran
                 f"[{GREYS[1]}]■[/] ink (bright = strong)")  # into the Why panel's border at 80 columns, walk33 F5)
LEGEND_SHORT_MARKUP = f"[{FOR_STRONG}]■[/] towards  [{AGAINST_STRONG}]■[/] against  [{GREYS[1]}]■[/] ink"
LEGEND_PLAIN = "+ towards the class   - against it   . ink   (# and = strong)"


def _values(grid: Any) -> list[list[float]]:
    rows = grid.tolist() if hasattr(grid, "tolist") else grid
    return [[float(v) for v in row] for row in rows]


def map_scale(*maps: Any) -> float:
    """The largest |value| over ``maps``, so several maps share one colour scale."""
    return max((abs(v) for m in maps for row in _values(m) for v in row), default=0.0) or 1.0


def pixel_colour(ink: int, value: float, scale: float) -> str:
    strength = abs(value) / scale
    if strength >= WEAK:
        if value > 0:
            return FOR_STRONG if strength >= STRONG else FOR_WEAK
        return AGAINST_STRONG if strength >= STRONG else AGAINST_WEAK
    if ink >= THRESHOLD:
        return GREYS[min(len(GREYS) - 1, (ink - THRESHOLD) * len(GREYS) // max(256 - THRESHOLD, 1))]
    return BLACK


def shown_columns(pixels: Any, maps: list[Any], width: int, scale: float | None = None) -> tuple[int, int]:
    """Columns ``[start, stop)``, at most ``width`` of them, centred on what the maps show
    (ink, or attribution strong enough to be coloured): a narrow panel crops empty margins."""
    ink = pixel_rows(pixels)
    side = len(ink[0]) if ink else 0
    if width >= side:
        return 0, side
    scale = scale or map_scale(*maps)
    grids = [_values(m) for m in maps]
    used = [x for x in range(side)
            if any(row[x] >= THRESHOLD for row in ink) or any(abs(g[y][x]) >= WEAK * scale
                                                              for g in grids for y in range(len(g)))]
    centre = (used[0] + used[-1] + 1) / 2 if used else side / 2
    start = min(max(0, round(centre - width / 2)), side - width)
    return start, start + width


def attribution_text(pixels: Any, attribution: Any, scale: float | None = None,
                     columns: tuple[int, int] | None = None) -> list[Text]:
    """14 lines of 28 half blocks (or of ``columns`` [start, stop) only): the digit with its
    attribution laid over it."""
    ink, values = pixel_rows(pixels), _values(attribution)
    scale = scale or map_scale(values)
    start, stop = columns or (0, len(ink[0]) if ink else 0)
    lines = []
    for y in range(0, len(ink), 2):
        text = Text()
        for x in range(start, stop):
            top = pixel_colour(ink[y][x], values[y][x], scale)
            bottom = pixel_colour(ink[y + 1][x], values[y + 1][x], scale) if y + 1 < len(ink) else BLACK
            # as digit_art: the glyph alone keeps the shape where there is no colour
            if top == BLACK and bottom == BLACK:
                text.append(" ", Style(bgcolor=BLACK))
            elif bottom == BLACK:
                text.append(TOP, Style(color=top, bgcolor=BLACK))
            elif top == BLACK:
                text.append(BOTTOM, Style(color=bottom, bgcolor=BLACK))
            else:
                text.append(TOP, Style(color=top, bgcolor=bottom))
        lines.append(text)
    return lines


def attribution_plain(pixels: Any, attribution: Any, scale: float | None = None) -> list[str]:
    """28 lines of 28 characters: ``#``/``+`` towards, ``=``/``-`` against, ``.`` ink."""
    ink, values = pixel_rows(pixels), _values(attribution)
    scale = scale or map_scale(values)

    def char(p: int, v: float) -> str:
        strength = abs(v) / scale
        if strength >= WEAK:
            return ("#" if strength >= STRONG else "+") if v > 0 else ("=" if strength >= STRONG else "-")
        return "." if p >= THRESHOLD else " "

    return ["".join(char(p, v) for p, v in zip(prow, vrow)) for prow, vrow in zip(ink, values)]


def side_by_side(blocks: list[list[Text]], gap: int = 3) -> list[Text]:
    """Join equal-width blocks of lines left to right."""
    height = max(len(b) for b in blocks)
    width = max((b[0].cell_len for b in blocks if b), default=28)
    out = []
    for row in range(height):
        line = Text()
        for k, block in enumerate(blocks):
            if k:
                line.append(" " * gap)
            line.append_text(block[row] if row < len(block) else Text(" " * width))
        out.append(line)
    return out
