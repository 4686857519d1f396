"""How numbers read everywhere (CLI tables, the app's views): one formatter each."""

from __future__ import annotations

import math


def percent(value: float | None, digits: int = 2) -> str:
    """'99.12%', or '-' for a missing or non-finite value."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}%}"


def clip(text: str, limit: int = 200) -> str:
    """``text`` within ``limit`` characters, cut after a whole word and ended with "…" when it was longer."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


__all__ = ["clip", "percent"]
