"""The learning-rate range test's settings, checked without torch (``lr-find`` says a bad range at once)."""

from __future__ import annotations

import math


class LrFinderError(ValueError):
    """Bad finder settings (a range that does not grow, too few steps)."""


MIN_STEPS_PER_DECADE = 2  # fewer, and a thousandfold between steps hides the fall the suggestion looks for


def check_range(start: float, end: float, steps: int) -> None:
    """Raise LrFinderError with a readable message when the range is unusable."""
    for flag, value in (("--start", start), ("--end", end)):
        if not math.isfinite(value):
            raise LrFinderError(f"{flag} must be a finite number, got {value:g}")
    if start <= 0:
        raise LrFinderError(f"--start must be a positive number, got {start:g}")
    if end <= start:
        raise LrFinderError(f"--end must be above --start ({start:g}), got {end:g}")
    if end > 10:
        raise LrFinderError(f"--end must be <= 10, got {end:g}")
    if not 10 <= steps <= 10_000:
        raise LrFinderError(f"--steps must be between 10 and 10000, got {steps}")
    decades = math.log10(end / start)
    if steps < MIN_STEPS_PER_DECADE * decades:  # (its advice was then "try a higher --end")
        raise LrFinderError(f"--start {start:g} to --end {end:g} spans {decades:.0f} decades, too many for {steps} "
                            f"steps ({MIN_STEPS_PER_DECADE} a decade at least): raise --start, or --steps to "
                            f"{math.ceil(MIN_STEPS_PER_DECADE * decades)}")
