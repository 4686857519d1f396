"""One-line bars: parts that keep what matters when the terminal is narrow, and how a class is named."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

Part = tuple[str, str, int]  # (separator before it, Rich markup, rank: the lowest goes first when too long)


def first_fitting(choices: tuple[str, ...], room: int) -> str:
    """The first of ``choices`` (longest first) no longer than ``room``, else the last."""
    return next((choice for choice in choices if len(choice) <= room), choices[-1])


def fit_parts(parts: list[Part], width: int, elide: int | None = None) -> str:
    """The parts joined, leaving out the lowest-ranked ones (never the first) until the line fits ``width``.

    ``elide``: the index of a part given as plain text (a path), cut in its middle ("/tmp/…/runs") down to
    12 cells before any part is left out.
    """
    kept = list(parts)
    if elide is not None:
        separator, text, rank = kept[elide]
        kept[elide] = (separator, escape(text), rank)

    def line() -> str:
        return "".join(separator + markup for separator, markup, _ in kept).removeprefix(kept[0][0])

    over = Text.from_markup(line()).cell_len - width
    if elide is not None and over > 0 and len(text) > 12:
        keep = max(12, len(text) - over - 1)
        kept[elide] = (separator, escape(text[:keep // 2] + "…" + text[len(text) - (keep - keep // 2):]), rank)
    while len(kept) > 1 and Text.from_markup(line()).cell_len > width:
        kept.remove(min(kept[1:], key=lambda part: part[2]))
    return line()


def class_label(value: int | None, class_names: tuple[str, ...] | None) -> str:
    """"any" for no class, "3" for a digit, "9 Ankle boot" for a named class."""
    if value is None:
        return "any"
    named = class_names is not None and class_names[value] != str(value)
    return f"{value} {class_names[value]}" if named else str(value)
