"""What the Runs view asks and says about one run: its delete question, its "Train more epochs?" text and the
note on a config sent to the form. Words only (the pane asks them); read from the run's folder."""

from __future__ import annotations

import json
from pathlib import Path

from ...core.config import more_epochs_lr
from ...core.runs import RunInfo, files_of_its_own, read_config, steered_factor


def delete_question(run: RunInfo) -> str:
    """Delete it and what else goes with it: a person's own files, and (a tuning trial) that its study keeps the
    trial's record (the dialog named neither, walk37 F7)."""
    try:
        own = files_of_its_own(run.path)
    except OSError:
        own = []
    also = f" It also holds {', '.join(own[:4])}{', ...' if len(own) > 4 else ''}, deleted with it." if own else ""
    try:
        tag = json.loads((Path(run.path) / "tune.json").read_text())
        trial = f" It is trial {int(tag['trial'])} of study {tag['study']}, which keeps the trial's record."
    except (OSError, ValueError, KeyError, TypeError):
        trial = ""
    return f"Delete {run.path} and every checkpoint in it?{also}{trial} This cannot be undone."


def more_epochs_question(run: RunInfo, dropped: str | None) -> str:
    rate = more_epochs_lr(read_config(run.path), steered_factor(run.path))
    return (f"{run.name} finished its {run.epochs} epoch{'' if run.epochs == 1 else 's'}. Train it this many more "
            f"({rate}):" + (f"\n{dropped}." if dropped else ""))


def form_note(run: RunInfo) -> tuple[int | None, str]:
    """(the epochs of its first schedule, the note that says so) for a run trained more epochs later; its config's
    epochs are the total (walk29 F15). "It then trained 1 more" was said of one stopped in it (walk37 F8)."""
    first = run.schedules[0] if len(run.schedules) > 1 else None
    if first is None:
        return None, ""
    more = sum(run.schedules[1:])
    return first, (f" with its first {first} epoch{'s' * (first != 1)} ({more} more {'was' if more == 1 else 'were'} "
                   "added to it: r in Runs does that)")


__all__ = ["delete_question", "form_note", "more_epochs_question"]
