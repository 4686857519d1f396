"""Axis ticks that read as round numbers, for plotext charts (linear, and log10 plotted on a linear axis).

plotext's own ticks split the data's range evenly (99.10, 98.49, 97.27 ...), and its log scale
breaks on rebuild, so the charts plot log10 values themselves and label the ticks here.
"""

from __future__ import annotations

import math

NICE_STEPS = (1.0, 2.0, 5.0, 10.0)
FILLED = 0.7  # the least share of the axis the data should fill


def nice_step(span: float, max_ticks: int = 5) -> float:
    """The smallest 1, 2 or 5 times a power of ten that covers ``span`` in at most ``max_ticks`` - 1 steps."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / max(max_ticks - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    for multiple in NICE_STEPS:
        if multiple * power >= raw * (1 - 1e-9):
            return multiple * power
    return 10 * power


def _next_step(step: float) -> float:
    """The next 1, 2 or 5 times a power of ten above ``step``."""
    power = 10 ** math.floor(math.log10(step) + 1e-9)
    return next(m * power for m in NICE_STEPS if m * power > step * (1 + 1e-9))


def _decimals(step: float) -> int:
    """Digits after the point that every multiple of ``step`` needs (0.5 -> 1, 0.02 -> 2, 20 -> 0)."""
    for decimals in range(0, 12):
        if abs(round(step, decimals) - step) < step * 1e-6:
            return decimals
    return 12


def _multiples(step: float, low: float, high: float) -> list[float]:
    """The multiples of ``step`` from ``low`` to ``high``."""
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [i * step for i in range(first, last + 1) if low - 1e-9 <= i * step <= high + 1e-9]


def _ticks_at_the_ends(low: float, high: float, max_ticks: int) -> tuple[float, float, float]:
    """A round step and the axis widened to whole steps of it: ``(axis_low, axis_high, step)``."""
    step = nice_step(high - low, max_ticks)
    while len(_multiples(step, *_widened(low, high, step))) > max(max_ticks, 2):  # the widening can add
        step = _next_step(step)  # a tick at each end; the next round step, not a jump (0.05 -> 0.1, not 0.2)
    return *_widened(low, high, step), step


def _ticks_inside(low: float, high: float, max_ticks: int) -> tuple[float, float, float]:
    """The axis just outside the data (on a step about a twentieth of it) and the smallest round step
    with at most ``max_ticks`` on it: ``(axis_low, axis_high, step)``; the step is 0 where no two fit."""
    fine = nice_step(high - low, 21)
    axis_low, axis_high = _widened(low, high, fine)
    step = fine
    while len(_multiples(step, axis_low, axis_high)) > max(max_ticks, 2):
        step = _next_step(step)
    return axis_low, axis_high, step if len(_multiples(step, axis_low, axis_high)) >= 2 else 0.0


def _widened(low: float, high: float, step: float) -> tuple[float, float]:
    return math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step


def linear_ticks(low: float, high: float, max_ticks: int = 5,
                 within: tuple[float, float] | None = None) -> tuple[float, float, list[float], list[str]]:
    """Axis limits widened to round values, and evenly spaced round ticks with their labels.

    Returns ``(axis_low, axis_high, positions, labels)``; a flat range gets one step around it.
    The axis ends on ticks where the data still fills most of it; where that would leave a third
    or more empty (a loss from 0.05 to 2.3 with room for three ticks got 0 to 4), it ends just
    outside the data and the ticks are the round values inside it.
    ``within`` bounds what the values can be (an accuracy's 0 and 100): the axis and ticks stay inside it.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    low, high = min(low, high), max(low, high)
    if high - low < 1e-12:  # a constant (a flat learning rate, one accuracy): its value mid-axis
        pad = (within[1] - within[0]) / 100 if within else abs(low) * 0.5 or 0.5  # 99% got 0 to 200%
        low, high = low - pad, high + pad
    axis_low, axis_high, step = _ticks_at_the_ends(low, high, max_ticks)
    ends = (max(axis_low, within[0]), min(axis_high, within[1])) if within else (axis_low, axis_high)
    if high - low < FILLED * (ends[1] - ends[0]):
        tight_low, tight_high, tight_step = _ticks_inside(low, high, max_ticks)
        if tight_step:
            axis_low, axis_high, step = tight_low, tight_high, tight_step
    if within:
        axis_low, axis_high = max(axis_low, within[0]), min(axis_high, within[1])
    decimals = _decimals(step)
    positions = [round(p, decimals + 2) for p in _multiples(step, axis_low, axis_high)]
    return round(axis_low, 12), round(axis_high, 12), positions, [f"{p:.{decimals}f}" for p in positions]


def _real(value: float) -> str:
    """A loss as people write it: 0.01, 0.2, 1, 5e-05."""
    return f"{value:.3g}"


def log_ticks(low: float, high: float, max_ticks: int = 5) -> tuple[float, float, list[float], list[str]]:
    """Ticks for log10 values (``low``/``high`` are log10 of the data), labelled with the real values.

    1-2-5 times a decade where they fit, else decades (0.01, 0.1, 1), else (a narrow range) round values
    of the data itself with the axis widened to them. Returns
    ``(axis_low, axis_high, positions, labels)``, all on the log10 axis.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = -1.0, 0.0
    low, high = min(low, high), max(low, high)
    # 1-2-5 times a decade where they fit (a loss from 0.08 to 2.3 had only 0.1 and 1, nothing above 1), else decades
    for mantissas, strides in (((1, 2, 5), (1,)), ((1,), (1, 2, 3, 5, 10))):
        for stride in strides:
            values = [m * 10.0**k for k in range(math.floor(low) - 1, math.ceil(high) + 2) if k % stride == 0
                      for m in mantissas]
            inside = [v for v in values if low - 1e-9 <= math.log10(v) <= high + 1e-9]
            if 2 <= len(inside) <= max_ticks:
                return low, high, [math.log10(v) for v in inside], [_real(v) for v in inside]
    # a narrow range: round real values (evenly spaced in value, so nearly so in log10)
    axis_low, axis_high, values, labels = linear_ticks(10**low, 10**high, max_ticks)
    kept = [(v, label) for v, label in zip(values, labels) if v > 0]
    if len(kept) < 2:
        return low, high, [low, high], [_real(10**low), _real(10**high)]
    axis_low = math.log10(axis_low) if axis_low > 0 else min(low, math.log10(kept[0][0]))
    return axis_low, math.log10(axis_high), [math.log10(v) for v, _ in kept], [lb for _, lb in kept]


__all__ = ["linear_ticks", "log_ticks", "nice_step"]
