"""Axis ticks that read as round numbers, for plotext charts (linear, and log10 plotted on a linear axis).

plotext's own ticks split the data's range evenly (99.10, 98.49, 97.27 ...), and its log scale
breaks on rebuild, so the charts plot log10 values themselves and label the ticks here.
"""

from __future__ import annotations

import math

NICE_STEPS = (1.0, 2.0, 5.0, 10.0)


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


def linear_ticks(low: float, high: float, max_ticks: int = 5,
                 within: tuple[float, float] | None = None) -> tuple[float, float, list[float], list[str]]:
    """Axis limits widened to whole steps, and evenly spaced round ticks with their labels.

    Returns ``(axis_low, axis_high, positions, labels)``; a flat range gets one step around it.
    ``within`` bounds what the values can be (an accuracy's 0 and 100): the axis and ticks stay inside it.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    low, high = min(low, high), max(low, high)
    if high - low < 1e-12:  # a constant (a flat learning rate, one accuracy): its value mid-axis
        pad = (within[1] - within[0]) / 100 if within else abs(low) * 0.5 or 0.5  # 99% got 0 to 200%
        low, high = low - pad, high + pad
    step = nice_step(high - low, max_ticks)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    while last - first + 1 > max(max_ticks, 2):  # widening to whole steps can add a tick at each end
        step = _next_step(step)  # the next round step, not a jump (0.05 -> 0.1; it went to 0.2: 0.0 to 0.2
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)  # for data in 0.11-0.16)
    decimals = _decimals(step)
    positions = [round(i * step, decimals + 2) for i in range(first, last + 1)]
    axis_low, axis_high = positions[0], positions[-1]
    if within:
        positions = [p for p in positions if within[0] - 1e-9 <= p <= within[1] + 1e-9]
        axis_low, axis_high = max(axis_low, within[0]), min(axis_high, within[1])
    return axis_low, axis_high, positions, [f"{p:.{decimals}f}" for p in positions]


def _real(value: float) -> str:
    """A loss as people write it: 0.01, 0.2, 1, 5e-05."""
    return f"{value:.3g}"


def log_ticks(low: float, high: float, max_ticks: int = 5) -> tuple[float, float, list[float], list[str]]:
    """Ticks for log10 values (``low``/``high`` are log10 of the data), labelled with the real values.

    Decades (0.01, 0.1, 1) when the data spans enough of them, else 1-2-5 times a decade, else (a
    narrow range) round values of the data itself with the axis widened to them. Returns
    ``(axis_low, axis_high, positions, labels)``, all on the log10 axis.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = -1.0, 0.0
    low, high = min(low, high), max(low, high)
    for mantissas, strides in (((1,), (1, 2, 3, 5, 10)), ((1, 2, 5), (1,))):
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
    return math.log10(kept[0][0]), math.log10(kept[-1][0]), [math.log10(v) for v, _ in kept], [lb for _, lb in kept]


__all__ = ["linear_ticks", "log_ticks", "nice_step"]
