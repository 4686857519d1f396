"""How numbers read everywhere (CLI tables, the app's views): one formatter each."""

from __future__ import annotations

import math


def percent(value: float | None, digits: int = 2) -> str:
    """'99.12%', or '-' for a missing or non-finite value."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}%}"


__all__ = ["percent"]
