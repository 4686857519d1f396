"""How numbers read everywhere (CLI tables, the app's views): one formatter each."""

from __future__ import annotations

import math
from typing import Any


def percent(value: float | None, digits: int = 2) -> str:
    """'99.12%', or '-' for a missing or non-finite value."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}%}"


def short_percent(probability: float, digits: int = 1) -> str:
    """``digits`` decimals that claim no certainty either: 0.9996 is '>99.9%', not '100.0%'."""
    text = f"{probability:.{digits}%}"
    if probability < 1 and text.startswith("100"):
        return f">{100 - 10 ** -digits:.{digits}f}%"
    return text


def whole_percent(probability: float) -> str:
    """A probability in whole percent that claims no certainty it lacks: 99.5% is '99%', not '100%'
    (a wrong digit's tile read 100% while its panel said 99.5%); only 1 itself is '100%'."""
    shown = round(probability * 100)
    return f"{99 if shown == 100 and probability < 1 else shown}%"


def tested(accuracy: float | None, tta: bool) -> str:
    """A test figure, saying when it is the average over shifted copies ("99.75% with TTA")."""
    return percent(accuracy) + (" with TTA" if tta and accuracy is not None else "")


# A test figure under twice chance (10 classes): the network learned nothing it kept, most likely with a learning rate
# steered or set far too high (or too low); such a run read as a plain "Finished" (walk36 F3)
COLLAPSED = ("It reads the test digits no better than guessing: the network learned nothing it kept (a learning "
             "rate far too high, or too low, does this). Train again with another lr.")


def collapsed(accuracy: float | None) -> bool:
    return isinstance(accuracy, (int, float)) and accuracy < 0.2


def test_cell(accuracy: float | None, checkpoint: str | None, epochs_done: int, tta: bool = False) -> str:
    """A run's test accuracy for a table: which checkpoint it measured only when not the finished run's
    last one ("98.12%", "98.40% best·e2"), and "TTA" when shifted copies were averaged in ("99.75% TTA")."""
    if accuracy is None:
        return "-"
    figure = percent(accuracy) + " TTA" * tta
    if checkpoint in (None, "", f"last (epoch {epochs_done})"):
        return figure
    kind, _, epoch = checkpoint.partition(" (epoch ")  # "best (epoch 2)" -> "best·e2"
    return f"{figure} {kind}·e{epoch.rstrip(')')}" if epoch else f"{figure} {kind}"


def schedules_text(schedules: tuple[int, ...]) -> str:
    """A run trained more epochs, as its schedules: (2, 1) -> "2 epochs, then 1 more"."""
    first, *more = schedules
    return f"{first} epoch{'' if first == 1 else 's'}, then {' + '.join(map(str, more))} more"


def visible(text: str) -> str:
    """``text`` with its control characters but newlines written as escapes: a file named with ESC in it sent
    escape sequences to the terminal (walk38 F10)."""
    return "".join(c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode() for c in text)


def clip(text: str, limit: int = 200) -> str:
    """``text`` within ``limit`` characters, cut after a whole word and ended with "…" when it was longer."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def rounded(value: float, digits: int) -> float:
    """``round(value, digits)``, but a tiny negative value gives 0.0, not -0.0 (which reads as a sign in a CSV)."""
    return round(value, digits) + 0.0


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinity (not JSON) as None, through lists, tuples and dicts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def rate_ticks(low: float, high: float, max_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 axis spanning ``low``..``high`` (log10 values) and their labels as rates.

    Whole decades (1e-6, 1e-4, 0.01, 1) when the range holds at least two, every other one
    when there are too many; else the 1-2-5 steps inside the range.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [], []
    decades = list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))
    if len(decades) >= 2:
        stride = max(1, math.ceil(len(decades) / max_ticks))
        positions = [float(k) for k in decades[::stride]]
    else:
        positions = [math.log10(m) + k for k in range(math.floor(low) - 1, math.ceil(high) + 1) for m in (1, 2, 5)
                     if low - 1e-9 <= math.log10(m) + k <= high + 1e-9]
    return positions, [rate_label(10 ** p) for p in positions]


def rate_label(rate: float) -> str:
    """A learning rate as people write it: 1e-04 -> 1e-4, 0.01, 1."""
    if 1e-3 <= rate < 100:
        return f"{rate:.3g}"
    mantissa, exponent = f"{rate:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def tidy(value: Any) -> Any:
    """A searched float to 4 significant digits (the trial trains it, the form and the printed command show it:
    Use best put lr 0.00664411297689613 in the form); anything else as it is."""
    return float(f"{value:.4g}") if type(value) is float else value


def param_text(value: Any) -> str:
    """A searched value as a trial's run trains it: a float tidied, an MLP's layers as Optuna keeps them (128-64:
    a running trial's event gave [128, 64])."""
    if isinstance(value, (list, tuple)):
        return "-".join(map(str, value))
    return f"{tidy(value):g}" if type(value) is float else str(value)


def params_text(params: dict[str, Any]) -> str:
    """``lr=0.008844 batch_size=128``: the searched values, as the command that trains them again gives them."""
    return " ".join(f"{k}={param_text(v)}" for k, v in params.items())


__all__ = [
    "COLLAPSED", "clip", "collapsed", "json_safe", "param_text", "params_text", "percent", "rate_label", "rate_ticks",
    "short_percent", "test_cell", "tested", "tidy", "visible", "whole_percent",
]
