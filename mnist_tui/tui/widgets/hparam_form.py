"""The hyperparameter form: one row per TrainConfig field, validated as you type."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from ...core.config import DATASETS, DEVICES, MODELS, OPTIMIZERS, PRESETS, SCHEDULES, TrainConfig, field_types, validate

CHOICES: dict[str, tuple[str, ...]] = {
    "dataset": DATASETS, "model": MODELS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "device": DEVICES,
    "nesterov": ("off", "on"),
}
# (field, label) in the order the form shows them
FIELDS: tuple[tuple[str, str], ...] = (
    ("dataset", "dataset"), ("model", "model"), ("hidden", "hidden (mlp)"), ("width", "width (cnn)"),
    ("members", "ensemble size"), ("epochs", "epochs"), ("batch_size", "batch size"), ("optimizer", "optimizer"),
    ("lr", "learning rate"), ("momentum", "momentum/β1"), ("nesterov", "nesterov"), ("weight_decay", "weight decay"),
    ("schedule", "schedule"), ("step_size", "step (epochs)"), ("gamma", "step gamma"), ("dropout", "dropout"),
    ("label_smoothing", "label smooth"), ("rotate", "aug rotate °"), ("translate", "aug translate"),
    ("scale", "aug scale"), ("elastic", "aug elastic"), ("ema", "EMA decay"), ("val_size", "val size"),
    ("seed", "seed"), ("device", "device"), ("threads", "threads (0=auto)"),
)
TYPES = field_types()


def format_value(name: str, value: Any) -> str:
    if name == "hidden":
        return ",".join(str(h) for h in value)
    if name == "nesterov":
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_value(name: str, text: str) -> tuple[Any, str | None]:
    """(value, None) or (None, readable message) for one field's text."""
    kind = TYPES[name]
    text = text.strip()
    if name == "nesterov":
        return text == "on", None
    if kind is str:
        return text, None
    if kind is tuple:
        try:
            sizes = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
        except ValueError:
            return None, f"hidden must be layer sizes like 128,64, got {text!r}"
        return sizes, None
    if kind is int:
        try:
            return int(text), None
        except ValueError:
            return None, f"{name} must be a whole number, got {text!r}"
    try:
        return float(text), None
    except ValueError:
        return None, f"{name} must be a number, got {text!r}"


class HParamForm(VerticalScroll):
    """Preset picker plus every field; posts :class:`HParamForm.Validated` after each change."""

    DEFAULT_CSS = """
    HParamForm { height: 1fr; }
    HParamForm .field-row { height: 1; margin-bottom: 0; }
    HParamForm .field-row Label { width: 15; color: $text-muted; }
    HParamForm .field-row Input, HParamForm .field-row Select { width: 1fr; }
    HParamForm .field-error { color: $error; display: none; padding-left: 1; }
    HParamForm .field-error.-shown { display: block; }
    HParamForm #preset-row { margin-bottom: 1; }
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

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row", id="preset-row"):
            yield Label("preset")
            # the picker starts as it should read (Select reports its first value as a change, which
            # must not re-apply the preset over remembered values)
            matches = self._matches(self._initial, self._preset)
            self._applied_preset = self._preset if matches else None
            yield Select([(name, name) for name in PRESETS], value=self._preset if matches else Select.NULL,
                         prompt="(custom)",
                         compact=True, id="preset", allow_blank=True)
        for name, label in FIELDS:
            with Horizontal(classes="field-row"):
                yield Label(label)
                value = format_value(name, getattr(self._initial, name))
                if name in CHOICES:
                    yield Select([(o, o) for o in CHOICES[name]], value=value, allow_blank=False, compact=True,
                                 id=f"field-{name}")
                else:
                    yield Input(value, compact=True, id=f"field-{name}", select_on_focus=False)
            yield Static("", classes="field-error", id=f"error-{name}")

    def on_mount(self) -> None:
        self.revalidate()

    # -- reading and writing -------------------------------------------------------------

    def _text(self, name: str) -> str:
        widget = self.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        return widget.value

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
        matches = self._matches(self.read()[0], base)
        select = self.query_one("#preset", Select)
        wanted = base if matches else Select.NULL
        if select.value != wanted:
            with self.prevent(Select.Changed):
                select.value = wanted
        self._applied_preset = base if matches else None

    def read(self) -> tuple[TrainConfig | None, dict[str, str]]:
        """The config the form describes, or None, and every field's error message."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, _ in FIELDS:
            value, error = parse_value(name, self._text(name))
            if error:
                errors[name] = error
            else:
                values[name] = value
        config = self._initial.replace(**values)
        errors = {**validate(config), **errors}
        return (None if errors else config), errors

    def set_config(self, config: TrainConfig, preset: str | None = None) -> None:
        """Fill every field from ``config`` (and the preset picker, if given)."""
        with self.prevent(Select.Changed, Input.Changed):
            if preset is not None:
                self._applied_preset = self._preset = preset
                self.query_one("#preset", Select).value = preset
            for name, _ in FIELDS:
                widget = self.query_one(f"#field-{name}")
                widget.value = format_value(name, getattr(config, name))
        self._initial = config
        self.revalidate()

    def revalidate(self) -> dict[str, str]:
        _, self.errors = self.read()
        for name, _ in FIELDS:
            message = self.errors.get(name, "")
            error = self.query_one(f"#error-{name}", Static)
            error.update(message)
            error.set_class(bool(message), "-shown")
            self.query_one(f"#field-{name}").set_class(bool(message), "-invalid")
        self.post_message(self.Validated(dict(self.errors)))
        return self.errors

    # -- events ---------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.revalidate()
        self._sync_preset_label()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "preset":
            if event.value is not Select.NULL and event.value != self._applied_preset:
                self._applied_preset = self._preset = str(event.value)
                # a preset is a training recipe: the chosen dataset stays
                self.set_config(PRESETS[str(event.value)].replace(dataset=self._text("dataset") or "mnist"))
            return
        self.revalidate()
        self._sync_preset_label()
