"""The one-line run status shown under every view: epoch, batch, speed, time, best validation."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from ...core.formatting import percent


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(samples_per_s: float) -> str:
    if samples_per_s >= 10_000:
        return f"{samples_per_s / 1000:.0f}k/s"
    if samples_per_s >= 1000:
        return f"{samples_per_s / 1000:.1f}k/s"
    return f"{samples_per_s:.0f}/s"


def text_bar(fraction: float, width: int) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


@dataclass
class RunProgress:
    """What the progress line shows; the app updates it from engine events."""

    state: str = "loading"  # loading, idle, starting, running, paused, stopping, failed
    message: str = "Loading PyTorch and MNIST…"
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    global_step: int = 0
    start_step: int = 0  # global step the run (or resumed run) began at
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0
    best_val: float | None = None

    def remaining_s(self) -> float | None:
        total = self.epochs * self.steps_per_epoch
        done = self.global_step - self.start_step
        if done <= 0 or self.elapsed_s <= 0 or total <= 0:
            return None
        return (total - self.global_step) * self.elapsed_s / done


class ProgressLine(Widget):
    """``▶ E1/3 ██████░░░░ 412/844 │ 12k/s │ 0:12 +0:20 │ best val 97.8%`` or a status message."""

    DEFAULT_CSS = """
    ProgressLine { height: 1; background: $panel; padding: 0 1; }
    """
    ICONS = {"running": "▶", "paused": "⏸", "stopping": "■", "starting": "…"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress = RunProgress()

    def update_progress(self, **changes) -> None:
        for name, value in changes.items():
            setattr(self.progress, name, value)
        self.refresh()

    def render(self) -> Text:
        p = self.progress
        if p.state in ("running", "paused", "stopping") and p.epochs:
            out = Text(no_wrap=True, overflow="ellipsis")
            out.append(f"{self.ICONS[p.state]} ", "bold")
            fraction = p.step / p.steps_per_epoch if p.steps_per_epoch else 0.0
            out.append(f"E{p.epoch}/{p.epochs} ", "bold")
            out.append(text_bar(fraction, 10), "green" if p.state == "running" else "yellow")
            out.append(f" {p.step}/{p.steps_per_epoch} │ {format_rate(p.samples_per_s)} │ ")
            out.append(f"{format_duration(p.elapsed_s)} +{format_duration(p.remaining_s())} │ ")
            out.append("best val " + percent(p.best_val))
            if p.state == "paused":
                out.append(" │ PAUSED", "bold yellow")
            elif p.state == "stopping":
                out.append(" │ stopping…", "bold red")
            return out
        style = {"failed": "bold red", "loading": "italic"}.get(p.state, "")
        return Text(p.message, style=style, no_wrap=True, overflow="ellipsis")
