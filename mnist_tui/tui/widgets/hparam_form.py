"""The hyperparameter form: one row per TrainConfig field, validated as you type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from ...core.config import (
    FIELD_SPECS, FIELD_TYPES, PRESETS, TrainConfig, data_errors, field_applies, format_field, parse_field, validate,
)
from ...core.names import check_run_name


def _options(name: str) -> tuple[str, ...]:
    """A Select's options, or () for a field typed into an Input."""
    return ("off", "on") if FIELD_TYPES[name] is bool else FIELD_SPECS[name].choices


# what a number field lets be typed: a key that cannot be part of a number is refused there, not typed in (as a
# run ended the keys went back to the learning rate, and "+" meant for steering made it "0.5+++++": walk22 F10)
NUMBER_KEYS = {int: r"[-+]?\d*", float: r"[-+]?(\d+\.?\d*|\.\d*)?([eE][-+]?\d*)?"}


class NumberInput(Input):
    """A number field: a paste loses the spaces and newlines around the number (a number copied from a terminal
    has them, and the field refused the whole paste for them)."""

    def _on_paste(self, event: events.Paste) -> None:
        super()._on_paste(events.Paste(event.text.strip()))
        event.stop()


def parse_value(name: str, text: str) -> tuple[Any, str | None]:
    """(value, None) or (None, readable message) for one field's text."""
    try:
        return parse_field(name, text), None
    except ValueError as exc:
        return None, str(exc)


class FormSelect(Select, inherit_bindings=False):
    """A picker of the form: enter or space opens it; up and down go to the field above or below, as on every
    other field (down opened the list, and on a number field it scrolled the form: walk40 F10)."""

    BINDINGS = [Binding("enter,space", "show_overlay", "Show menu", show=False)]


# up and down go to the field above or below, on the Train form and Tune's (tab and shift+tab do too)
FIELD_STEP_KEYS = [Binding("up", "step_field(-1)", "Field above", show=False),
                   Binding("down", "step_field(1)", "Field below", show=False)]


def step_field(form: Widget, step: int) -> None:
    """The keys to the field ``step`` fields on from the focused one in ``form`` (none past either end)."""
    fields = [field for field in form.query("Select, Input") if field.focusable]
    if form.app.focused in fields:
        fields[max(0, min(len(fields) - 1, fields.index(form.app.focused) + step))].focus()


class HParamForm(VerticalScroll):
    """Preset picker, every TrainConfig field (rows made from its FieldSpecs) and an optional run name.

    Posts :class:`HParamForm.Validated` after each change.
    """

    BINDINGS = FIELD_STEP_KEYS

    DEFAULT_CSS = """
    HParamForm { height: 1fr; }
    HParamForm .field-row { height: 1; margin-bottom: 0; }
    HParamForm .field-row Label { width: 17; color: $text-muted; }  /* "threads (0=auto)" and a space */
    HParamForm .field-row Input, HParamForm .field-row Select { width: 1fr; }
    HParamForm .field-error { color: $error; display: none; padding-left: 1; }
    HParamForm .field-error.-shown { display: block; }
    HParamForm .field-error.-note { color: $warning; }
    HParamForm #preset-row { margin-bottom: 1; }
    HParamForm .field-row.-unused Label, HParamForm .field-row.-unused Input,
    HParamForm .field-row.-unused SelectCurrent Static#label { text-opacity: 0.5; }
    HParamForm .field-row.-unused:focus-within Label { text-opacity: 1; }  /* the focus, readable there too */
    """

    class Validated(Message):
        """The form was re-checked: ``errors`` maps field names to messages (empty when valid)."""

        def __init__(self, errors: dict[str, str]) -> None:
            super().__init__()
            self.errors = errors

    def __init__(self, config: TrainConfig, preset: str | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = config
        self._preset = preset
        self._applied_preset = preset  # Select reports its initial value too: do not re-apply it
        self.errors: dict[str, str] = {}
        self._checked: tuple[str, ...] = ()  # the fields' texts when last checked
        self.train_digits: dict[str, int] = {}  # per dataset, once loaded: a batch must fit the training set

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row", id="preset-row"):
            yield Label("preset")
            # the picker starts as it should read (Select reports its first value as a change, which
            # must not re-apply the preset over remembered values)
            matches = self._matches(self._initial, self._preset)
            self._applied_preset = self._preset if matches else None
            yield FormSelect([(name, name) for name in PRESETS], value=self._preset if matches else Select.NULL,
                         prompt="(custom)",
                         compact=True, id="preset", allow_blank=True)
        for name, spec in FIELD_SPECS.items():  # (dimmed from the start: dimmed at mount, each row was restyled)
            with Horizontal(classes="field-row" + ("" if field_applies(name, self._initial) else " -unused")):
                yield Label(spec.label)
                value = format_field(name, getattr(self._initial, name), exact=True)
                if _options(name):
                    yield FormSelect([(o, o) for o in _options(name)], value=value, allow_blank=False, compact=True,
                                 id=f"field-{name}", tooltip=spec.help)
                else:
                    restrict = NUMBER_KEYS.get(FIELD_TYPES[name])  # None: a text field (hidden sizes)
                    yield (NumberInput if restrict else Input)(value, compact=True, id=f"field-{name}",
                                                               select_on_focus=False, tooltip=spec.help,
                                                               restrict=restrict)
            yield Static("", classes="field-error", id=f"error-{name}")
        with Horizontal(classes="field-row"):
            yield Label("run name")
            yield Input("", placeholder="(automatic)", compact=True, id="field-run_name", select_on_focus=False,
                        tooltip="the run's folder under the checkpoints folder; empty: model and time")
        yield Static("", classes="field-error", id="error-run_name")

    def on_mount(self) -> None:
        self.revalidate()

    def action_step_field(self, step: int) -> None:
        step_field(self, step)

    def on_resize(self) -> None:  # the focused field stays in view (at 60x20 it was below it: walk41 F5)
        if self.app.focused is not None and self in self.app.focused.ancestors:
            self.call_after_refresh(self.app.focused.scroll_visible, animate=False)

    # -- reading and writing -------------------------------------------------------------

    def _text(self, name: str) -> str:
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        return widget.value

    @property
    def dataset(self) -> str:
        return self._text("dataset") or "mnist"

    @property
    def preset(self) -> str | None:
        """The preset the values started from (kept when fields are edited after it)."""
        return self._preset

    @staticmethod
    def _matches(config: TrainConfig | None, preset: str | None) -> bool:
        """Whether ``config`` is the preset (the dataset aside: a preset is a recipe for any of them)."""
        return (preset in PRESETS and config is not None
                and config.replace(dataset=PRESETS[preset].dataset) == PRESETS[preset])

    def _sync_preset_label(self) -> None:
        """The picker names the preset while the fields match it, and shows (custom) once edited."""
        base = self._preset
        parsed, unparsed = self._parsed()
        matches = not unparsed and self._matches(parsed, base)
        select = self.query_one("#preset", Select)
        wanted = base if matches else Select.NULL
        if select.value != wanted:
            with self.prevent(Select.Changed):
                select.value = wanted
        self._applied_preset = base if matches else None

    def _parsed(self) -> tuple[TrainConfig, dict[str, str]]:
        """The fields' values laid over the last config set (a field that does not parse keeps it), unvalidated."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in FIELD_SPECS:
            value, error = parse_value(name, self._text(name))
            if error:
                errors[name] = error
            else:
                values[name] = value
        return self._initial.replace(**values), errors

    def read(self, ignore: tuple[str, ...] = ()) -> tuple[TrainConfig | None, dict[str, str]]:
        """The config the form describes, or None, and every field's error message. ``ignore``: fields the
        caller sets itself (the lr finder's and Tune's lr), whose errors are none: the last config's value stands in
        (as it does for a field the config does not use)."""
        config, unparsed = self._parsed()
        problems = validate(config)
        # a field the config does not use (an mlp's width) refuses nothing: the last config's value stands in
        unused = [name for name in FIELD_SPECS if not field_applies(name, config)]
        stand_in = {name: getattr(self._initial, name) for name in (*ignore, *unused)
                    if name in unparsed or name in problems}
        if stand_in:
            config = config.replace(**stand_in)
            problems = validate(config)
        errors = {**problems, **{name: error for name, error in unparsed.items() if name not in stand_in}}
        if not errors and config.dataset in self.train_digits:
            errors = data_errors(config, self.train_digits[config.dataset])
        folder = getattr(self.app, "checkpoints_dir", None)  # a name taken is said as it is typed (walk40 F3)
        if self.run_name is not None and (problem := check_run_name(self.run_name) or (
                folder is not None and name_problem(folder, self.run_name))):
            errors["run_name"] = problem
        return (None if errors else config), errors

    @property
    def run_name(self) -> str | None:
        """The run name typed, or None for an automatic one."""
        return self.query_one("#field-run_name", Input).value.strip() or None

    def show_top(self) -> None:
        """The keys on the first field and the form scrolled to it (a config just loaded is read from the top)."""
        self.query("Select, Input").first().focus(scroll_visible=False)
        self.scroll_home(animate=False)

    def draft(self) -> tuple[TrainConfig, str | None, dict[str, str]]:
        """The form as it stands, for restore to put back: the last config set, the preset and each field's text
        as typed (a refused "0.001abc" comes back with its error, not as the value it stood over)."""
        return self._initial, self._preset, {name: self._text(name) for name in FIELD_SPECS}

    def restore(self, draft: tuple[TrainConfig, str | None, dict[str, str]]) -> None:
        """The form as ``draft`` took it."""
        config, preset, texts = draft
        self.set_config(config, preset)
        with self.prevent(Select.Changed, Input.Changed):
            for name, text in texts.items():
                widget = self.query_one(f"#field-{name}")
                if not isinstance(widget, Select) or text:
                    widget.value = text
        self.revalidate()
        self._sync_preset_label()

    def set_config(self, config: TrainConfig, preset: str | None = None) -> None:
        """Fill every field from ``config`` (and the preset picker: ``preset``, else the preset ``config`` is, if any)."""
        if preset is None:  # a run's config (Runs' f, a resumed run, Tune's best) may be a preset as it is
            preset = next((name for name in PRESETS if self._matches(config, name)), None)
        with self.prevent(Select.Changed, Input.Changed):
            if preset is not None:
                self._applied_preset = self._preset = preset
                self.query_one("#preset", Select).value = preset
            for name in FIELD_SPECS:
                widget = self.query_one(f"#field-{name}")
                widget.value = format_field(name, getattr(config, name), exact=True)
        self._initial = config
        self.revalidate()
        self._sync_preset_label()  # names the preset only while the values are its

    def revalidate(self) -> dict[str, str]:
        config, self.errors = self.read()
        parsed, unparsed = self._parsed()
        shown, bad = config or parsed, {**validate(parsed), **unparsed}
        for name in FIELD_SPECS:  # what the model, optimizer and schedule chosen do not use reads dimmed
            self.query_one(f"#field-{name}").parent.set_class(not field_applies(name, shown), "-unused")
        for name in (*FIELD_SPECS, "run_name"):
            message = self.errors.get(name, "")
            # a dimmed field refuses nothing, but what it holds is not taken without a word ("abc" sat there)
            note = not message and name in bad and not field_applies(name, shown)
            if note:
                message = f"{bad[name]} (unused now: {format_field(name, getattr(shown, name))} stands in)"
            error = self.query_one(f"#error-{name}", Static)
            if str(error.content) != message:  # (an update lays the whole screen out again: typing was slow)
                error.update(message)
            error.set_class(note, "-note")
            error.set_class(bool(message), "-shown")
            field = self.query_one(f"#field-{name}")
            field.set_class(bool(message), "-invalid")
            if message and field.has_focus:  # the field may be the last row in view: its message comes in too
                self.call_after_refresh(error.scroll_visible, animate=False)
        self._checked = self._texts()
        self.post_message(self.Validated(dict(self.errors)))
        return self.errors

    def focus_error(self, name: str) -> None:
        """Focus ``name``'s field with its error message in view (a refused start goes to the first one)."""
        self.query_one(f"#field-{name}").focus(scroll_visible=False)
        self.call_after_refresh(self.query_one(f"#error-{name}", Static).scroll_visible, animate=False)

    # -- events ---------------------------------------------------------------------------

    def _texts(self) -> tuple[str, ...]:
        return *(self._text(name) for name in FIELD_SPECS), self.query_one("#field-run_name", Input).value

    def _recheck(self) -> None:
        """After a field's change: each field reports its first value as a change as it mounts, and checking the
        whole form for each of them took 33 checks at every start (0.1 s of it)."""
        if self._texts() != self._checked:
            self.revalidate()
            self._sync_preset_label()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._recheck()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "preset":
            if event.value is not Select.NULL and event.value != self._applied_preset:
                self._applied_preset = self._preset = str(event.value)
                # a preset is a training recipe: the chosen dataset stays
                self.set_config(PRESETS[str(event.value)].replace(dataset=self._text("dataset") or "mnist"))
            return
        self._recheck()


def name_problem(checkpoints_dir: Path, run_name: str) -> str | None:
    """Why a new run cannot be named ``run_name``, in the app's words (the core's name the CLI's flags); or None."""
    from ...core.runs import CheckpointError, RunBusy, check_new_run

    path = Path(checkpoints_dir) / run_name
    try:
        check_new_run(Path(checkpoints_dir), run_name)
    except RunBusy:
        return f"{run_name} is being trained by another process: pick another run name"
    except CheckpointError as exc:
        if path.is_dir():
            return f"{run_name} exists: pick another run name, or resume it in Runs (r)"
        if path.exists():
            return f"{run_name} is a file in the checkpoints folder: pick another run name"
        return str(exc)
    return None
