"""28x28 grayscale digits as terminal text.

Two image rows share one character cell through Unicode half blocks, so a digit
takes 28 columns by 14 rows. The shape is plain text (it reads with no colour at
all); a grey ramp on a black ground adds intensity and still reads in 16 colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style
from rich.text import Text

from ...core.formatting import whole_percent

TOP, BOTTOM, FULL, EMPTY = "▀", "▄", "█", " "
THRESHOLD = 80  # a pixel at or above this (of 255) is ink
SHADES = " ░▒▓█"  # one character per pixel in the large rendering
# faint ink to full ink; each maps to a distinct grey (or white) in a 16-colour palette
GREYS = ("#767676", "#a8a8a8", "#d0d0d0", "#ffffff")
_STYLES = tuple(Style(color=grey, bgcolor="#000000") for grey in GREYS)
BACKGROUND = Style(bgcolor="#000000")


def pixel_rows(pixels: Any) -> list[list[int]]:
    """A 2-D image (tensor, array or nested lists) as rows of ints."""
    rows = pixels.tolist() if hasattr(pixels, "tolist") else pixels
    return [[int(v) for v in row] for row in rows]


def _cell(top: bool, bottom: bool) -> str:
    if top and bottom:
        return FULL
    if top:
        return TOP
    if bottom:
        return BOTTOM
    return EMPTY


def digit_lines(pixels: Any, threshold: int = THRESHOLD) -> list[str]:
    """The digit as lines of half blocks: width columns, ceil(height / 2) rows."""
    rows = pixel_rows(pixels)
    width = len(rows[0]) if rows else 0
    lines = []
    for y in range(0, len(rows), 2):
        top = rows[y]
        bottom = rows[y + 1] if y + 1 < len(rows) else [0] * width
        lines.append("".join(_cell(t >= threshold, b >= threshold) for t, b in zip(top, bottom)))
    return lines


def _grey_index(value: int, threshold: int) -> int:
    span = max(256 - threshold, 1)
    return min(len(GREYS) - 1, max(0, (value - threshold) * len(GREYS) // span))


def digit_text(pixels: Any, threshold: int = THRESHOLD) -> list[Text]:
    """:func:`digit_lines` styled with a grey ramp (the brighter pixel of each cell) on black."""
    rows = pixel_rows(pixels)
    width = len(rows[0]) if rows else 0
    out = []
    for line_no, line in enumerate(digit_lines(rows, threshold)):
        y = line_no * 2
        bottom = rows[y + 1] if y + 1 < len(rows) else [0] * width
        text = Text()
        for x, char in enumerate(line):
            if char == EMPTY:
                text.append(char, BACKGROUND)
            else:
                text.append(char, _STYLES[_grey_index(max(rows[y][x], bottom[x]), threshold)])
        out.append(text)
    return out


def large_digit_lines(pixels: Any) -> list[str]:
    """One pixel per two columns and one row, shaded with ``SHADES``: 56 columns by 28 rows."""
    steps = len(SHADES)
    return ["".join(SHADES[min(steps - 1, v * steps // 256)] * 2 for v in row) for row in pixel_rows(pixels)]


def probability_bar(probability: float, width: int) -> str:
    """A left-aligned bar of eighth blocks, ``width`` columns for probability 1."""
    eighths = round(max(0.0, min(1.0, probability)) * width * 8)
    full, rest = divmod(eighths, 8)
    bar = "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])
    return bar.ljust(width)


def half_size(pixels: Any) -> list[list[int]]:
    """28x28 -> 14x14 by the brightest pixel of each 2x2 block (thin strokes survive)."""
    rows = pixel_rows(pixels)
    return [[max(rows[y][x], rows[y][x + 1], rows[y + 1][x], rows[y + 1][x + 1]) for x in range(0, len(rows[0]) - 1, 2)]
            for y in range(0, len(rows) - 1, 2)]


def caption(index: int, true_label: int, predicted_label: int, confidence: float, width: int = 28) -> str:
    """``#index true→pred conf%`` fitted to ``width`` columns."""
    text = f"#{index} {true_label}→{predicted_label} {whole_percent(confidence)}"
    return text[:width].ljust(width)


__all__: Sequence[str] = (
    "caption", "digit_lines", "digit_text", "half_size", "large_digit_lines", "pixel_rows", "probability_bar",
)
