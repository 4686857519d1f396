"""The one-line run status shown under every view: epoch, batch, speed, time, best validation."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.widget import Widget

from ...core.config import TrainConfig
from ...core.events import EpochEnd, Event, Failed, Finished, RunStarted, StepMetrics, Stopped
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


RATE_WEIGHT = 0.25  # of each new window's rate in the one shown: about the last four windows (2 s)


@dataclass
class RunProgress:
    """What the progress line shows; the app updates it from engine events (through :meth:`update`)."""

    state: str = "loading"  # loading, idle, starting, running, paused, stopping, failed
    message: str = "Loading PyTorch and MNIST…"
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    global_step: int = 0
    start_step: int = 0  # global step the run (or resumed run) began at
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0  # the run's training time, a resumed run's earlier sessions included
    best_val: float | None = None
    lr_factor: float = 1.0  # steering on top of the schedule (shown as lr×0.5 while not 1)
    phase: str = ""  # between batches: "validating…", "testing…" (the line stood still for 7 s, walk34 F5)
    # (global step, elapsed) of this session's first point: a resumed run's earlier time is not this
    # session's, so the rate of the steps still to come is measured from here
    session_start: tuple[int, float] | None = None

    def update(self, **changes) -> None:
        """Set fields; a new ``start_step`` (a run or resumed run starting) starts a new session. A rate is
        averaged with the ones before it (each is one half-second window's: on a busy machine they ran from
        552/s to 36k/s within seconds)."""
        rate, previous = changes.get("samples_per_s"), self.samples_per_s
        for name, value in changes.items():
            setattr(self, name, value)
        if rate and previous > 0 and "start_step" not in changes:
            self.samples_per_s = previous + RATE_WEIGHT * (rate - previous)
        if "start_step" in changes:
            self.session_start = None
            if "lr_factor" not in changes:
                self.lr_factor = 1.0
        if self.session_start is None and "global_step" in changes and self.global_step > self.start_step \
                and "start_step" not in changes:
            self.session_start = (self.global_step, self.elapsed_s)

    def remaining_s(self) -> float | None:
        """Time to the end at this session's pace; None until it can be measured."""
        total = self.epochs * self.steps_per_epoch
        if total <= 0 or self.global_step >= total and self.global_step > 0:
            return 0.0 if total > 0 else None
        if self.start_step == 0:  # a fresh run: all its time is this session's
            done, spent = self.global_step, self.elapsed_s
        elif self.session_start is not None:
            done = self.global_step - self.session_start[0]
            spent = self.elapsed_s - self.session_start[1]
        else:
            return None
        if done <= 0 or spent <= 0:
            return None
        return (total - self.global_step) * spent / done


# parts of a status message, least important first: dropped in this order when the line is too narrow
_DROPPABLE = (
    re.compile(r"^[\d.]+k?/s$"),  # a rate
    re.compile(r"^best val "),
    re.compile(r"^saved "),  # where a stopped run was saved (Runs shows it; the resume hint stays)
    re.compile(r"^(best|last) \(epoch \d+\)$"),  # the checkpoint a figure comes from (the toast names it too)
)
_HINT = re.compile(r"^(f\d+|ctrl\+|\^|esc\b|enter\b)|\([a-z]\)$")  # a key to press: kept to the last
_FIGURE = re.compile(r"^test \d")  # a finished run's result: it went at 60 columns, "f3 Misclassified" stayed


def _file_names(part: str) -> str:
    """Paths (/a/b/c.pt, runs/x/last.pt) shortened to their file names; 50k/s is not a path."""
    return " ".join(word.rsplit("/", 1)[-1] if word.startswith(("/", "~/", "./")) or word.count("/") >= 2 else word
                    for word in part.split(" "))


def cut_middle(text: str, length: int) -> str:
    """``text`` in ``length`` characters, cut inside its longest word (a run's name) while that holds the cut:
    "in e…h 1" read as a typo; else in its middle."""
    if len(text) <= length:
        return text
    word = max(text.split(" "), key=len)
    start, keep = text.index(word), len(word) - (len(text) - length) - 1  # the word's characters left, beside "…"
    if keep >= 8:
        tail = keep // 3
        return text[:start] + word[: keep - tail] + "…" + word[len(word) - tail:] + text[start + len(word):]
    tail = (length - 1) // 3
    return text[: length - 1 - tail] + "…" + (text[len(text) - tail:] if tail else "")


def _one_line(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` with "…" (Textual wraps a Text at its spaces whatever its no_wrap says, and
    the line's one row showed the words that fit, with nothing to say more was cut)."""
    text.no_wrap, text.overflow = True, "ellipsis"
    if width > 0 and text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def within_folder(reason: str, folder: str | os.PathLike[str]) -> str:
    """Paths in ``folder`` (the checkpoints folder) written from it (runs/x/last.pt as x/last.pt), and the folder
    itself left out where it heads the reason ("runs: cannot write in the checkpoints folder"): the line is 80
    wide."""
    folder = Path(folder)
    for prefix in sorted({str(folder.resolve()), str(folder.absolute()), str(folder)}, key=len, reverse=True):
        prefix = prefix.rstrip(os.sep)
        reason = reason.removeprefix(prefix + ": ").replace(prefix + os.sep, "")
    return reason


def fit_message(message: str, width: int) -> str:
    """``message`` (parts joined by " · ") shortened to ``width`` so that its key hints stay.

    Paths shrink to their file names, the less important parts go (rate, best val, which
    checkpoint), the headline is cut in the middle, then other parts go from the end; the
    hints are kept. A message without hints is left to be cut at its end.
    """
    parts = message.split(" · ")
    if len(message) <= width or width <= 0 or not any(_HINT.search(part) for part in parts[1:]):
        return message

    def length() -> int:
        return len(" · ".join(parts))

    parts = [part if _HINT.search(part) else _file_names(part) for part in parts]
    for pattern in _DROPPABLE:
        if length() <= width:
            break
        parts = [part for index, part in enumerate(parts) if index == 0 or not pattern.search(part)]
    for shortest in (20, 8):
        if length() > width:  # the headline (a run's name...) is cut before the figures go
            parts[0] = cut_middle(parts[0], max(shortest, len(parts[0]) - (length() - width)))
        while length() > width:  # the other parts, then the hints after the first, then (last) the test figure
            middle = [i for i, part in enumerate(parts)
                      if i > 0 and not _HINT.search(part) and not _FIGURE.search(part)]
            hints = [i for i, part in enumerate(parts) if i > 0 and _HINT.search(part)][1:]
            figures = [i for i, part in enumerate(parts) if i > 0 and _FIGURE.search(part)] if shortest == 8 else []
            gone = middle or hints or figures
            if not gone or shortest == 20 and len(parts[0]) > 20:
                break
            del parts[gone[-1]]
    return " · ".join(parts)


def ready_message(title: str, counts: tuple[int, int] | None) -> str:
    """The idle line for the form's dataset: its digits once read, else when it will be (walk34 F13)."""
    if counts is None:
        return f"Ready · {title}: read when f5 starts a run · ctrl+p commands"
    return f"Ready · {title} {counts[0]:,} train / {counts[1]:,} test · f5 start · ctrl+p commands"


def phase_after(event: Event, config: TrainConfig | None, phase: str) -> str:
    """What the run does once ``event`` is in, where no event comes for a while: its epoch's last batch is
    followed by validation, its last epoch's end by the test (about 30 s for best's, with TTA)."""
    if isinstance(event, StepMetrics):
        return "" if event.step < event.steps_per_epoch else \
            "validating…" if config is None or config.val_size else "saving…"
    if isinstance(event, EpochEnd):
        return "" if event.epoch < event.epochs else "testing with TTA…" if config and config.tta else "testing…"
    return "" if isinstance(event, (RunStarted, Stopped, Finished, Failed)) else phase


class ProgressLine(Widget):
    """``▶ E1/3 ██████░░░░ 412/844 │ 12k/s │ 0:12 +0:20 │ best val 97.8%`` or a status message.

    Both fit the width: parts that matter less go first (the rate, best val, the bar's length).
    """

    DEFAULT_CSS = """
    ProgressLine { height: 1; background: $panel; padding: 0 1; }
    """
    ICONS = {"running": "▶", "paused": "⏸", "stopping": "■", "starting": "…"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress = RunProgress()

    def update_progress(self, **changes) -> None:
        self.progress.update(**changes)
        self.refresh()

    def _run_line(self, width: int) -> Text:
        p = self.progress
        fraction = p.step / p.steps_per_epoch if p.steps_per_epoch else 0.0
        state = {"paused": (" │ PAUSED f6", "bold yellow"), "stopping": (" │ stopping…", "bold red")}.get(p.state)
        phase = bool(p.phase) and p.state == "running"
        rate = f" │ {p.phase}" if phase else f" │ {format_rate(p.samples_per_s)}"
        best = " │ best val " + percent(p.best_val)
        # (bar width, rate, best val) from the fullest to the barest; a phase stays longer than best val (a long
        # steering factor pushed "testing…" off first, and the line stood still again: walk36 F1)
        for bar, with_rate, with_best in ((10, True, True), (6, True, True), (6, True, False), (0, True, False),
                                          (0, False, False)) if phase else (
                (10, True, True), (10, False, True), (6, False, True), (6, False, False), (0, False, False)):
            out = Text(no_wrap=True, overflow="ellipsis")
            out.append(f"{self.ICONS[p.state]} ", "bold")
            out.append(f"E{p.epoch}/{p.epochs} ", "bold")
            if bar:
                out.append(text_bar(fraction, bar), "green" if p.state == "running" else "yellow")
                out.append(" ")
            out.append(f"{p.step}/{p.steps_per_epoch}")
            if with_rate:
                out.append(rate)
            out.append(f" │ {format_duration(p.elapsed_s)} +{format_duration(p.remaining_s())}")
            if p.lr_factor != 1.0:
                out.append(f" │ lr×{p.lr_factor:.4g}", "bold")  # ×666.7, as the toasts say it
            if with_best:
                out.append(best)
            if state:
                out.append(*state)
            if out.cell_len <= width:
                break
        return _one_line(out, width)

    def render(self) -> Text:
        p = self.progress
        width = self.content_size.width or 78
        if p.state in ("running", "paused", "stopping") and p.epochs:
            return self._run_line(width)
        style = {"failed": "bold red", "loading": "italic"}.get(p.state, "")
        return _one_line(Text(fit_message(p.message, width), style=style), width)
