"""One-line bars: parts that keep what matters when the terminal is narrow, and how a class is named."""

from __future__ import annotations

from rich.text import Text

Part = tuple[str, str, int]  # (separator before it, Rich markup, rank: the lowest goes first when too long)


def fit_parts(parts: list[Part], width: int) -> str:
    """The parts joined, leaving out the lowest-ranked ones (never the first) until the line fits ``width``."""
    kept = list(parts)

    def line() -> str:
        return "".join(separator + markup for separator, markup, _ in kept).removeprefix(kept[0][0])

    while len(kept) > 1 and Text.from_markup(line()).cell_len > width:
        kept.remove(min(kept[1:], key=lambda part: part[2]))
    return line()


def class_label(value: int | None, class_names: tuple[str, ...] | None) -> str:
    """"any" for no class, "3" for a digit, "9 Ankle boot" for a named class."""
    if value is None:
        return "any"
    named = class_names is not None and class_names[value] != str(value)
    return f"{value} {class_names[value]}" if named else str(value)
