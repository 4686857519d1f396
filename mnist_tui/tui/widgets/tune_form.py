"""The Tune view's inputs: the fields to search, trials, pruner, study name and storage.

Three rows of compact fields; the screen reads them through the methods here and
revalidates on each ``Input.Changed`` (which bubbles to it).
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Input, Label, Select

from ...core.config import TrainConfig
from ...core.storage_url import storage_file
from ...core.tune_space import PRUNERS, SpaceError, base_mismatch, held_out_for_tuning, parse_space
from .hparam_form import FIELD_STEP_KEYS, FormSelect, step_field
from .tune_records import in_view_words, progress_text

STATUS_LINES, STATUS_WIDTH = 5, 78  # the Tune status line's most lines, and its width at 80 columns


def clip_lines(text: str, width: int, most: int) -> str:
    """``text`` wrapped at ``width`` in at most ``most`` lines, the last ending "…" when some were left out."""
    lines = [part for line in text.splitlines() for part in textwrap.wrap(line, width)]
    if len(lines) <= most:
        return "\n".join(lines)
    return "\n".join(lines[:most - 1] + [lines[most - 1][:width - 1] + "…"])  # the "…" within the width


class TuneForm(Vertical):
    """Search space, trials, pruner, study and storage; ``validation_error`` says what stops a start."""

    DEFAULT_CSS = """
    TuneForm { height: auto; }
    TuneForm .tune-row { height: 1; margin: 0 1 0 0; }
    TuneForm .tune-field { width: auto; height: 1; }
    TuneForm .tune-field Label { padding: 0 1; color: $text-muted; }
    TuneForm #search-field, TuneForm #study-field, TuneForm #storage-field { width: 1fr; }
    TuneForm #tune-search, TuneForm #tune-study, TuneForm #tune-storage { width: 1fr; }
    TuneForm #tune-trials { width: 6; }
    TuneForm #tune-pruner { width: 14; }
    /* focus as on the Train form: the field's label in the accent colour, its value on the primary colour */
    TuneForm .tune-field:focus-within { background: $boost; }  /* (also makes Textual restyle the label) */
    TuneForm .tune-field:focus-within Label { color: $accent; text-style: bold; }
    TuneForm Input:focus, TuneForm Select:focus > SelectCurrent { background: $primary 55%; }
    TuneForm Select:focus > SelectCurrent Static#label { color: $text; text-style: bold; }
    """
    BINDINGS = FIELD_STEP_KEYS  # as on the Train form (only tab moved here: walk41 F4)

    def action_step_field(self, step: int) -> None:
        step_field(self, step)

    def __init__(self, base: TrainConfig, space: list[str], study: str | Callable[[tuple[str, ...]], str],
                 storage: str, default_storage: str, *, memory: dict[str, str] | None = None,
                 id: str | None = None) -> None:
        """``study``: a fixed name, or the name for the fields searched (as `mnist-tui tune` names it: the
        searched fields' values do not count), which follows the search field while no name is typed."""
        super().__init__(id=id)
        self.base, self.space, self.study_for = base, space, study
        held = held_out_for_tuning(base)  # the config the trials are laid over: a base holding no digits out
        # (best, or the form's val size 0 on any preset: `tune` refused --val-size 0) holds 5,000 out for them
        self.tuned = base if held is None else base.replace(val_size=held)
        self.initial_storage, self.default_storage = storage, default_storage
        self.study_base: TrainConfig | None = None  # the config the study named here lays its trials over, once read
        # what was typed the last time Tune was open (the app keeps it while it runs); the search only
        # for the same model family, whose default space it replaced; the study only for the same config
        # and search (another config's study refuses this one: its fixed values differ)
        self.memory = memory if memory is not None else {}
        if self.memory.get("space") != " ".join(space):
            self.memory.pop("tune-search", None)
        self.default_study = self._study_for_search(self.memory.get("tune-search", " ".join(space)))
        if self.memory.get("study-for") != self.default_study:
            self.memory.pop("tune-study", None)

    def _study_for_search(self, search: str) -> str:
        if isinstance(self.study_for, str):
            return self.study_for
        try:
            names = tuple(spec.split("=")[0].strip() for spec in shlex.split(search))
        except ValueError:  # an open quote: the name stays as it was until the search reads again
            return getattr(self, "default_study", self.study_for(()))
        return self.study_for(names)

    def _defaults(self) -> dict[str, str]:
        return {"tune-search": " ".join(self.space), "tune-trials": "20", "tune-pruner": "median",
                "tune-study": self.default_study, "tune-storage": self.initial_storage}

    def _remembered(self, field: str) -> str:
        return self.memory.get(field, self._defaults()[field])

    def _remember(self, field: str | None, value: str) -> None:
        """A field typed away from its default is remembered; one back at its default follows the default."""
        defaults = self._defaults()
        if field not in defaults:
            return
        if value == defaults[field]:
            self.memory.pop(field, None)
        else:
            self.memory[field] = value
            self.memory["space"], self.memory["study-for"] = defaults["tune-search"], self.default_study

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "tune-search":
            self._follow_search(event.value)
        self._remember(event.input.id, event.value)

    def _follow_search(self, search: str) -> None:
        """The proposed study name for this search, in the study field unless a name of one's own is there."""
        before, self.default_study = self.default_study, self._study_for_search(search)
        study = self.query_one("#tune-study", Input)
        if self.default_study != before and study.value.strip() == before:
            with self.prevent(Input.Changed):
                study.value = self.default_study

    def on_input_blurred(self, event: Input.Blurred) -> None:
        """A field left shows its start again (focus selected it all and scrolled to its end: "r=2e-3:3e-2")."""
        event.input.scroll_to(x=0, animate=False, immediate=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._remember(event.select.id, str(event.value))

    def compose(self) -> ComposeResult:
        with Horizontal(classes="tune-row"):
            with Horizontal(classes="tune-field", id="search-field"):
                yield Label("search")
                yield Input(self._remembered("tune-search"), id="tune-search", select_on_focus=False, compact=True,
                            tooltip="FIELD=SPEC ... e.g. lr=1e-4:1e-1:log batch_size=64,128")
        with Horizontal(classes="tune-row"):
            with Horizontal(classes="tune-field"):
                yield Label("trials")
                yield Input(self._remembered("tune-trials"), id="tune-trials", select_on_focus=False, type="integer",
                            compact=True, tooltip="trials")
            with Horizontal(classes="tune-field"):
                yield Label("pruner")
                yield FormSelect([(p, p) for p in PRUNERS], value=self._remembered("tune-pruner"),
                             allow_blank=False, id="tune-pruner",
                             compact=True)
            with Horizontal(classes="tune-field", id="study-field"):  # (digest names are up to 27 columns)
                yield Label("study")
                yield Input(self._remembered("tune-study"), id="tune-study", select_on_focus=False, compact=True,
                            tooltip="study name")
        with Horizontal(classes="tune-row"):  # a row of its own: a URL beside the study cut both
            with Horizontal(classes="tune-field", id="storage-field"):
                yield Label("storage")
                yield Input(self._remembered("tune-storage"), placeholder=self.default_storage, id="tune-storage",
                            compact=True, select_on_focus=False,
                            tooltip=f"storage URL; empty: the default, {self.default_storage}")

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_placeholder)

    def _fit_placeholder(self) -> None:
        """The default URL when the storage field has room for it (wide terminals), else 'default' (80 columns)."""
        storage = self.query_one("#tune-storage", Input)
        storage.placeholder = self.default_storage if len(self.default_storage) < storage.size.width else "default"

    def space_specs(self) -> list[str]:
        return shlex.split(self.query_one("#tune-search", Input).value)

    def storage_url(self) -> str:
        return self.query_one("#tune-storage", Input).value.strip() or self.default_storage

    def storage_exists(self) -> bool:
        """False for an SQLite or journal file not made yet (no study to show; polling would create it)."""
        path = storage_file(self.storage_url())
        return path is None or path.is_file()

    def study_name(self) -> str:
        return self.query_one("#tune-study", Input).value.strip() or self.default_study

    def trials(self) -> str:
        return self.query_one("#tune-trials", Input).value

    def pruner(self) -> str:
        return str(self.query_one("#tune-pruner", Select).value)

    def tune_flags(self) -> list[str]:
        """The study's fields as ``mnist-tui tune`` flags."""
        return ["--trials", self.trials(), "--pruner", self.pruner(), "--study", self.study_name(),
                "--storage", self.storage_url(), *(flag for spec in self.space_specs() for flag in ("--search", spec))]

    def validation_error(self) -> str | None:
        """The search spec's problems (the core's messages), or None when it can run."""
        try:
            if not (space := parse_space(self.space_specs(), self.base)):
                return "give at least one FIELD=SPEC to search"
        except SpaceError as exc:  # each whole, one a line, while they fit the status (5 lines); else the rest named
            messages = [in_view_words(message) for message in exc.errors.values()]  # "search", not "--search"
            if sum(-(-len(message) // STATUS_WIDTH) for message in messages) <= STATUS_LINES:
                return "\n".join(messages)
            return messages[0] + f" (and {len(messages) - 1} more: {', '.join(list(exc.errors)[1:])})"
        except ValueError as exc:  # unbalanced quotes
            return str(exc)
        trials = self.trials()
        if not trials.isdigit() or int(trials) < 1:
            return "trials must be a whole number, 1 or more"
        if self.study_base is not None and (  # Start failed there, after inviting it (walk33 F2)
                problem := base_mismatch(self.study_base.to_dict(), self.tuned, {param.name for param in space})):
            return (f"study {self.study_name()} tunes another config ({problem}): Start needs the Train form's "
                    "config to be its own; name another study to tune this one")
        return None


def progress_status(study: str, trials: dict[int, dict[str, Any]], widths: tuple[int | None, int], error: str | None,
                    more: str, running: bool, specs: Sequence[str] = ()) -> str | Content:
    """The study's counts (``widths``: the status's and its content's); under them, while the form is invalid
    (``error``), why Start is off (the error alone hid a study just attached to, walk26 F11), else while it is not
    running what Start adds to it (``more`` trials, searching the FIELD=SPEC ``specs``: which fields, when the
    study's trials searched others, as joining it says; it was said only after Start, walk37 F6)."""
    return with_start_note(progress_text(study, trials, widths[0]), trials, widths[1], error, more, running, specs)


def with_start_note(text: str, trials: dict[int, dict[str, Any]], width: int, error: str | None, more: str,
                    running: bool, specs: Sequence[str] = ()) -> str | Content:
    """``text`` (the study's counts, or how it ended), and under it why Start is off or what it adds: after a
    study ended in the view the line was blank until the view was opened again (walk41 F8)."""
    if error is not None:  # in the lines the counts leave
        error = clip_lines(error, width or STATUS_WIDTH, STATUS_LINES - 1)
    note = None if running else f"ctrl+s runs {more} more trial{'' if more == '1' else 's'} in it"
    if note and any(trial.get("state") == "running" for trial in trials.values()):  # (not this view's: watched)
        note = f"watching: another process trains it; ctrl+s adds a worker, {more} more trial{'s' * (more != '1')}"
    searched = list(dict.fromkeys(name for trial in trials.values() for name in trial.get("params") or {}))
    searching = [spec.partition("=")[0] for spec in specs]
    if note and searching and searched and set(searched) != set(searching):
        note += f", searching {', '.join(searching)}; it searched {', '.join(searched)}"
    under = (error, "$text-error") if error is not None else (note, "$text-muted") if note else None
    return text if under is None else Content.assemble(text, "\n", under)


__all__ = ["PRUNERS", "TuneForm", "clip_lines", "progress_status", "with_start_note"]
