"""Search spaces for ``mnist-tui tune``: ``FIELD=SPEC`` parsing, default spaces, train command lines.

Pure Python (no torch, no Optuna) so the CLI validates a search before anything starts.

Spec grammar (the field is any TrainConfig field):
  ``lr=1e-4:1e-1:log``     a float range sampled on a log scale
  ``dropout=0:0.5``        a float range (an int field gives an int range: ``width=16:48``)
  ``width=16:48:8``        an int range with a step (floats accept a step too)
  ``batch_size=64,128,256``  a list of choices (parsed as the field's type)
  ``model=cnn,lenet5``     choices for text fields; booleans take ``true,false``
Every bound and choice is checked with core/config.py's ``validate``, so a value the
config would refuse is refused here, with the same message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from .config import PRESETS, ConfigError, TrainConfig, field_applies, field_types, unused_because, validate
from .formatting import tidy

PRUNERS = ("median", "hyperband", "none")  # Optuna's pruners the tune commands offer


# fields a search must not vary: they decide where or what it trains, not how well
FIXED_FIELDS = ("device", "threads", "dataset", "val_size")


@dataclass(frozen=True)
class Param:
    """One searched field: a range (``low``..``high``, optionally ``log`` or ``step``) or ``choices``."""

    name: str
    kind: str  # "float", "int" or "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def spec(self) -> str:
        """The ``FIELD=SPEC`` text that parses back to this Param."""
        if self.kind == "categorical":
            return f"{self.name}=" + ",".join(_format(to_storable(c)) for c in self.choices)
        tail = ":log" if self.log else (f":{_format(self.step)}" if self.step is not None else "")
        return f"{self.name}={_format(self.low)}:{_format(self.high)}{tail}"

    def suggest(self, trial: Any) -> Any:
        """Draw a value from an Optuna trial (duck-typed, so this module needs no Optuna)."""
        if self.kind == "categorical":
            value = trial.suggest_categorical(self.name, [to_storable(c) for c in self.choices])
            return _from_storable(self.name, value)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return tidy(trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log))


class SpaceError(ConfigError):
    """A bad ``--search`` spec; ``errors`` maps the field to its message (printed, exit 2)."""


def _format(value: Any) -> str:
    """The shortest text that reads back as exactly ``value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        for digits in range(6, 18):
            text = f"{value:.{digits}g}"
            if float(text) == value:
                return text
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def to_storable(value: Any) -> Any:
    """A searched value as Optuna keeps it: categorical choices are JSON scalars, so an MLP's hidden sizes (a tuple,
    or a list once through JSON) travel as "128-64"."""
    return "-".join(str(v) for v in value) if isinstance(value, (tuple, list)) else value


def _from_storable(name: str, value: Any) -> Any:
    if field_types().get(name) is tuple and isinstance(value, str):
        return tuple(int(v) for v in value.split("-"))
    return value


def _parse_value(name: str, kind: type, text: str) -> Any:
    text = text.strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise SpaceError({name: f"{name} takes true or false, got {text!r}"})
    if kind is tuple:  # hidden sizes as 128-64 (commas separate the choices)
        try:
            return tuple(int(v) for v in text.split("-") if v)
        except ValueError:
            raise SpaceError({name: f"{name} choices are sizes like 128-64, got {text!r}"}) from None
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise SpaceError({name: f"{name} must be a whole number, got {text!r}"}) from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise SpaceError({name: f"{name} must be a number, got {text!r}"}) from None
        if not math.isfinite(value):
            raise SpaceError({name: f"{name} must be a finite number, got {text!r}"})
        return value
    return text


def _check_value(base: TrainConfig, name: str, value: Any) -> None:
    """Raise SpaceError with config.validate's own message if ``value`` is invalid for ``name``."""
    try:
        candidate = dataclasses.replace(base, **{name: value})
    except TypeError as exc:
        raise SpaceError({name: f"{name}: {exc}"}) from None
    message = validate(candidate).get(name)
    if message:
        raise SpaceError({name: message})


def parse_param(text: str, base: TrainConfig | None = None) -> Param:
    """Parse one ``FIELD=SPEC``; raise SpaceError (a ConfigError) with a readable message."""
    base = base or TrainConfig()
    name, sep, spec = text.partition("=")
    name = name.strip().replace("-", "_")
    types = field_types()
    if not sep or not spec.strip():
        raise SpaceError({name or "search": f"--search takes FIELD=SPEC (e.g. lr=1e-4:1e-1:log), got {text!r}"})
    if name not in types:
        raise SpaceError({name: f"{name!r} is not a config field; fields: {', '.join(types)}"})
    if name in FIXED_FIELDS:
        raise SpaceError({name: f"{name} is fixed for a whole study; set it with --{name.replace('_', '-')}"})
    kind = types[name]
    if "," in spec or ":" not in spec:
        choices = tuple(_parse_value(name, kind, part) for part in spec.split(",") if part.strip())
        if not choices:
            raise SpaceError({name: f"{name} needs at least one choice, got {spec!r}"})
        if len(set(choices)) != len(choices):
            raise SpaceError({name: f"{name} lists a choice twice: {spec!r}"})
        if len(choices) == 1:  # (it joined the default study as a search of its own)
            value = spec.strip(" ,")
            raise SpaceError({name: f"{name} has one value ({value}), which searches nothing: list two or more "
                                    f"({name}=A,B), or set it with --{name.replace('_', '-')} {value}"})
        for choice in choices:
            _check_value(base, name, choice)
        return Param(name, "categorical", choices=choices)
    if kind not in (int, float):
        raise SpaceError({name: f"{name} is not numeric: list its choices with commas, e.g. {name}=a,b"})
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise SpaceError({name: f"{name} range is LOW:HIGH, LOW:HIGH:log or LOW:HIGH:STEP, got {spec!r}"})
    low, high = _parse_value(name, kind, parts[0]), _parse_value(name, kind, parts[1])
    log, step = False, None
    if len(parts) == 3:
        if parts[2].strip().lower() == "log":
            log = True
        else:
            try:
                float(parts[2])
            except ValueError:  # "lr must be a number" named the wrong thing: it is the range's third part
                raise SpaceError({name: f"{name} range's third part is 'log' or a STEP number, "
                                        f"got {parts[2]!r}"}) from None
            step = _parse_value(name, kind, parts[2])
            if step <= 0:
                raise SpaceError({name: f"{name} step must be > 0, got {parts[2]!r}"})
    if not low < high:
        raise SpaceError({name: f"{name} range must have LOW < HIGH, got {spec!r}"})
    if step is not None and abs((steps := (high - low) / step) - round(steps)) > 1e-9 * max(1.0, steps):
        # Optuna warned (from its own file) that it would search LOW up to the last whole step instead
        raise SpaceError({name: f"{name} range {_format(low)}:{_format(high)} is not a whole number of steps of "
                                f"{_format(step)}: end it at {_format(low + int(steps) * step)}"})
    if log and low <= 0:
        raise SpaceError({name: f"{name} log range must start above 0, got {spec!r}"})
    _check_value(base, name, low)
    _check_value(base, name, high)
    return Param(name, "int" if kind is int else "float", low, high, log, step)


def parse_space(specs: list[str], base: TrainConfig | None = None) -> list[Param]:
    """Parse every ``--search`` spec; all problems are reported together (SpaceError)."""
    params: dict[str, Param] = {}
    errors: dict[str, str] = {}
    for text in specs:
        try:
            param = parse_param(text, base)
        except SpaceError as exc:
            errors.update(exc.errors)
            continue
        if param.name in params:
            errors[param.name] = f"{param.name} is searched twice"
        params[param.name] = param
    if errors:
        raise SpaceError(errors)
    return list(params.values())


# default spaces, around each preset's own recipe
DEFAULT_SPACES: dict[str, list[str]] = {
    "seed-mlp": ["lr=1e-4:1e-2:log", "batch_size=32,64,128", "dropout=0:0.3", "hidden=128-64,256-128,512"],
    "lenet5": ["lr=5e-4:1e-2:log", "batch_size=64,128,256", "weight_decay=1e-6:1e-3:log"],
    "fast": ["lr=2e-3:3e-2:log", "batch_size=128,256,512", "momentum=0.6:0.95", "width=16:40:8"],
    "best": ["lr=1e-3:1e-2:log", "dropout=0:0.3", "label_smoothing=0:0.1", "weight_decay=1e-5:1e-3:log"],
}


# the preset whose recipe (and so whose default space) is built around each model
PRESET_FOR_MODEL = {"mlp": "seed-mlp", "lenet5": "lenet5", "cnn": "fast", "fastcnn": "fast", "deepcnn": "best"}


def preset_for(config: TrainConfig, preset_name: str | None = None) -> str:
    """``preset_name`` if it is a preset of ``config``'s model, else the preset built around that model: a study is
    named and searched from it (a preset picked before another model's run was put in the form is not)."""
    if preset_name in PRESETS and PRESETS[preset_name].model == config.model:
        return preset_name
    return PRESET_FOR_MODEL.get(config.model, "fast")


def default_space(preset_name: str) -> list[Param]:
    """A sensible space around ``preset_name``'s recipe."""
    return parse_space(DEFAULT_SPACES[preset_name], PRESETS[preset_name])


def held_out_for_tuning(base: TrainConfig) -> int | None:
    """The digits a study's trials hold out for validation (its objective) when ``base`` holds none (the best
    preset trains on all of them): the default split; None when the base has its own."""
    return TrainConfig().val_size if base.val_size == 0 else None


def apply(base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """``base`` with the searched values laid over it (hidden sizes as a tuple, floats tidied: Optuna keeps a
    trial's float whole, and its run trained the tidied one)."""
    return base.replace(**{k: tidy(_from_storable(k, v)) for k, v in values.items()})


# fields that differ from machine to machine and leave the result alone: workers may differ in them
MACHINE_FIELDS = ("device", "threads")


def base_mismatch(stored: dict[str, Any], base: TrainConfig, searched: set[str]) -> str | None:
    """How ``base`` differs from the base config a study was started with (``stored``), or None.

    A study's trials are comparable only if every field not searched is the same, so a worker
    with other fixed values must not join it. Searched fields and MACHINE_FIELDS are not compared.
    """
    def plain(value: Any) -> Any:  # as JSON gives it back: a tuple is a list
        return tuple(value) if isinstance(value, (list, tuple)) else value

    mine = base.to_dict()
    differ = [name for name in mine if name not in searched and name not in MACHINE_FIELDS
              and name in stored and plain(stored[name]) != plain(mine[name])]
    if not differ:
        return None
    parts = [f"--{name.replace('_', '-')} {_format(plain(stored[name]))} there, {_format(plain(mine[name]))} here"
             for name in differ[:3]]
    return "; ".join(parts) + (f"; and {len(differ) - 3} more" if len(differ) > 3 else "")


def space_mismatch(recorded: dict[str, Any], space: list[Param]) -> str | None:
    """How ``space`` differs from what a study's trials searched (``recorded``: field -> Optuna distribution)
    in a way Optuna refuses mid-study (other choices, another kind, log or not), or None; other ranges are
    fine. Refused up front: Optuna's ValueError came from the first trial, which ended the worker."""
    kinds = {"CategoricalDistribution": "categorical", "IntDistribution": "int", "FloatDistribution": "float"}
    for param in space:
        old = recorded.get(param.name)
        if old is None:
            continue
        kind = kinds.get(type(old).__name__)
        if kind == "categorical":
            same = param.kind == kind and tuple(old.choices) == tuple(to_storable(c) for c in param.choices)
            there = f"{param.name}=" + ",".join(_format(c) for c in old.choices)
        else:
            same = param.kind == kind and bool(old.log) == param.log
            there = f"{param.name}={_format(old.low)}:{_format(old.high)}" + (":log" if old.log else "")
        if not same:
            return f"{there} there, {param.spec()} here"
    return None


def default_study(config: TrainConfig, preset_name: str, searched: tuple[str, ...] = ()) -> str:
    """``mnist-fast`` for the preset itself (``kmnist-fast`` on KMNIST); with other fixed values, a short
    digest of them after it (``mnist-fast-3fa2``), so another config never lands in the preset's study."""
    skip = {"dataset", *MACHINE_FIELDS, *searched}
    fixed = {k: v for k, v in config.to_dict().items() if k not in skip}
    start = PRESETS[preset_name].to_dict() if preset_name in PRESETS else None
    name = f"{config.dataset}-{preset_name}"
    if start is None or any(v != start[k] for k, v in fixed.items()):
        name += "-" + hashlib.sha1(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:4]
    return name


def config_flags(config: TrainConfig, preset_name: str = "fast") -> list[str]:
    """``--preset NAME`` and a flag for each field of ``config`` that differs from that preset.

    The CLI's parser (commands/common.py's add_config_flags) reads them back as ``config``:
    ``--hidden 128,64``, ``--batchnorm``/``--no-batchnorm``, floats in their shortest exact form.
    """
    start = PRESETS[preset_name]
    flags = ["--preset", preset_name]
    for name in field_types():
        value = getattr(config, name)
        if value == getattr(start, name):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, _format(value)]
    return flags


def train_command(config: TrainConfig, preset_name: str = "fast", extra: tuple[str, ...] = ()) -> str:
    """The ``mnist-tui train`` command line that trains ``config``: the preset plus each field that differs and
    changes something (a study searching model and hidden printed ``--hidden 128`` for a fastcnn, which train
    then noted as ignored)."""
    start = PRESETS[preset_name]
    config = config.replace(**{name: getattr(start, name) for name in field_types() if not field_applies(name, config)})
    return " ".join(["mnist-tui", "train", *extra, *config_flags(config, preset_name)])


def tune_problem(base: TrainConfig, space: list[Param], *, trials: int, jobs: int, timeout_s: float | None,
                 pruner: str, sampler_seed: int | None = None) -> str | None:
    """What makes a study impossible before any data is read, or None (the CLI asks first: no download)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    problems = [(not space, "the search space is empty: give --search FIELD=SPEC"),
                (base.val_size <= 0, "tuning needs a validation split (the objective); set --val-size above 0"),
                (trials < 1, f"--trials must be at least 1, got {trials}"),
                (jobs < 1, f"--jobs must be at least 1, got {jobs}"),
                (jobs > cpus, f"--jobs must be at most {cpus} (this machine's CPUs), got {jobs}"),
                (timeout_s is not None and timeout_s <= 0, f"--timeout must be above 0 seconds, got {timeout_s or 0:g}"),
                (timeout_s is not None and not math.isfinite(timeout_s),  # NaN passed the check above: no limit
                 f"--timeout must be a finite number of seconds above 0, got {timeout_s}"),
                (sampler_seed is not None and not 0 <= sampler_seed < 2**32,
                 f"--sampler-seed must be between 0 and {2**32 - 1}, got {sampler_seed}"),
                (pruner not in PRUNERS, f"--pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")]
    return next((text for failed, text in problems if failed), None) or unused_search(base, space)


def unused_search(base: TrainConfig, space: list[Param]) -> str | None:
    """The first searched field that changes nothing in any config the space can make, in words, or None:
    ``hidden`` on a fastcnn ran trials that all trained the same network (searching ``model`` too is fine)."""
    for param in space:
        others = [[(p.name, v) for v in (p.choices or (p.low, p.high))] for p in space if p is not param]
        if not any(field_applies(param.name, base.replace(**dict(combo))) for combo in itertools.product(*others)):
            return (f"--search {param.name} changes nothing here: {unused_because(param.name, base)}; "
                    "every trial would train the same")
    return None


__all__ = [
    "DEFAULT_SPACES", "FIXED_FIELDS", "MACHINE_FIELDS", "PRESET_FOR_MODEL", "PRUNERS", "Param", "SpaceError", "apply", "base_mismatch",
    "config_flags", "default_space", "default_study", "parse_param", "parse_space", "preset_for",
    "space_mismatch", "tidy", "to_storable", "train_command", "tune_problem",
    "unused_search",
]
