"""TrainConfig: every training knob in one frozen, validated dataclass.

Pure Python on purpose: the CLI's ``--help`` and the TUI's form import this
without paying for torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

MODELS = ("mlp", "lenet5", "cnn", "fastcnn", "deepcnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "auto")
DATASETS = ("mnist", "fashion-mnist", "kmnist")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "kmnist": "KMNIST"}
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}


@dataclass(frozen=True)
class FieldSpec:
    """What the form and the CLI know of one TrainConfig field: its label, help, choices and bounds.

    Both front ends are generated from these: the form's rows (in field order) and the
    CLI's ``--flags``, and :func:`validate` checks values against them.
    """

    label: str  # the form's label, and the name used in every message
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the low bound itself is refused (lr > 0)
    applies: Callable[[TrainConfig], bool] | None = None  # None: the field matters for every config


def _f(default: Any, label: str, help: str, **spec: Any) -> Any:
    return dataclasses.field(default=default, metadata={"spec": FieldSpec(label, help, **spec)})


def _is_cnn(c: TrainConfig) -> bool:
    return c.model in ("cnn", "fastcnn", "deepcnn")  # lenet5's layers are fixed


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a run trains, in the order the form shows it. Validate with :func:`validate`.

    To add a hyperparameter, add a field here with its ``_f(...)`` spec: the form's row,
    the CLI's flag, validation and Compare's table all follow from it.
    """

    dataset: str = _f("mnist", "dataset", "MNIST-format dataset (torchvision's)", choices=DATASETS)
    model: str = _f("cnn", "model", "network", choices=MODELS)
    hidden: tuple[int, ...] = _f((128, 64), "hidden (mlp)", "MLP hidden layer sizes, comma separated (e.g. 128,64)",
                                 low=1, high=8192, applies=lambda c: c.model == "mlp")
    width: int = _f(32, "width (cnn)", "CNN channels in the first block", low=1, high=512, applies=_is_cnn)
    batchnorm: bool = _f(True, "batchnorm", "batchnorm after each conv (cnn, deepcnn; fastcnn's second)",
                         applies=_is_cnn)
    members: int = _f(1, "ensemble size", "train this many networks side by side (different inits) and average "
                      "their predictions", low=1, high=16)
    member_views: bool = _f(False, "member views", "each ensemble member trains on its own augmented view of "
                            "the batch (more diverse members)", applies=lambda c: c.members > 1 and c.augment)
    epochs: int = _f(2, "epochs", "passes over the training set", low=1, high=1000)
    batch_size: int = _f(128, "batch size", "digits per training step", low=1, high=65536)
    optimizer: str = _f("adamw", "optimizer", "optimizer", choices=OPTIMIZERS)
    lr: float = _f(3e-3, "learning rate", "learning rate (peak rate for onecycle)", low=0, high=10, low_open=True)
    momentum: float = _f(0.9, "momentum/β1", "SGD momentum, or Adam's beta1", low=0, high=0.9999)
    beta2: float = _f(0.999, "β2 (adam)", "Adam's beta2 (second-moment decay)", low=0, high=0.99999,
                      applies=lambda c: c.optimizer in ("adam", "adamw"))
    nesterov: bool = _f(False, "nesterov", "Nesterov momentum (sgd)", applies=lambda c: c.optimizer == "sgd")
    weight_decay: float = _f(5e-4, "weight decay", "L2 / decoupled weight decay", low=0, high=1)
    schedule: str = _f("onecycle", "schedule", "learning-rate schedule", choices=SCHEDULES)
    step_size: int = _f(1, "step (epochs)", "epochs between decays (step schedule)", low=1, high=1000,
                        applies=lambda c: c.schedule == "step")
    gamma: float = _f(0.7, "step gamma", "decay factor (step schedule)", low=0, high=1, low_open=True,
                      applies=lambda c: c.schedule == "step")
    dropout: float = _f(0.1, "dropout", "dropout probability", low=0, high=0.95)
    label_smoothing: float = _f(0.0, "label smooth", "label smoothing for the loss", low=0, high=0.5)
    rotate: float = _f(0.0, "aug rotate °", "augmentation: max rotation, degrees", low=0, high=90)
    translate: float = _f(0.0, "aug translate", "augmentation: max shift, fraction of the side", low=0, high=0.5)
    scale: float = _f(0.0, "aug scale", "augmentation: max zoom in/out, fraction", low=0, high=0.5)
    elastic: float = _f(0.0, "aug elastic", "augmentation: elastic distortion strength, pixels (Simard et al. "
                        "use 34)", low=0, high=100)
    clean_epochs: int = _f(0, "clean epochs", "train the last N epochs on the digits as they are, without "
                           "augmentation (fits the model to undistorted digits)", low=0, high=1000,
                           applies=lambda c: c.augment)
    ema: float = _f(0.0, "EMA decay", "EMA decay of weights for evaluation (0 = off)", low=0, high=0.99999)
    tta: bool = _f(False, "test TTA", "test the final model on each digit and its four 1-pixel shifts, averaged "
                   "(test-time augmentation; the test figure then says \"with TTA\")")
    val_size: int = _f(5000, "val size", "training digits held out for validation", low=0, high=30000)
    seed: int = _f(0, "seed", "random seed (on the CPU, the same seed and threads make the same run)",
                   low=0, high=2**31 - 1)
    device: str = _f("auto", "device", "where to train (auto: cuda, then mps, then cpu)", choices=DEVICES)
    precision: str = _f("fp32", "precision", "bf16: train with convolutions and matmuls in bfloat16 (weights and "
                        "evaluation stay fp32); auto: bf16 where the hardware does it natively (a CPU with AVX512-BF16 "
                        "or AMX, a recent GPU), else fp32", choices=PRECISIONS)
    threads: int = _f(0, "threads (0=auto)", "torch CPU threads (0=auto: torch's default, one per core)",
                      low=0, high=256)

    @property
    def augment(self) -> bool:
        return self.rotate > 0 or self.translate > 0 or self.scale > 0 or self.elastic > 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys (older or newer files still load)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "hidden" in values:
            values["hidden"] = tuple(int(h) for h in values["hidden"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _range(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"{name} must be a finite number, got {value}"
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        lower = f"> {low:g}" if low_open else f">= {low:g}"
        return f"{name} must be {lower} and <= {high:g}, got {value:g}"
    return None


def _integer(name: str, value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be a whole number, got {value!r}"
    if not low <= value <= high:
        return f"{name} must be between {low} and {high}, got {value}"
    return None


def _as_typed(sizes: Any) -> str:
    """Layer sizes as the flag and the form take them ("64,0"), not as a Python tuple."""
    if isinstance(sizes, (tuple, list)):
        return ",".join(str(h) for h in sizes) if sizes else "nothing"
    return repr(sizes)


def _check(name: str, value: Any) -> str | None:
    """One field's message, in the words of its label, or None."""
    spec = FIELD_SPECS[name]
    label = spec.label
    if spec.choices:
        return None if value in spec.choices else f"{label} must be one of {', '.join(spec.choices)}, got {value!r}"
    kind = FIELD_TYPES[name]
    if kind is bool:
        return None if isinstance(value, bool) else f"{label} must be on or off, got {value!r}"
    if kind is tuple:
        sizes = value if isinstance(value, (tuple, list)) else ()
        if not sizes or not all(isinstance(h, int) and not isinstance(h, bool) and spec.low <= h <= spec.high
                                for h in sizes):
            return (f"{label} must be 1 or more layer sizes between {spec.low:g} and {spec.high:g}, "
                    f"got {_as_typed(value)}")
        return None
    if kind is int:
        return _integer(label, value, int(spec.low), int(spec.high))
    return _range(label, value, spec.low, spec.high, low_open=spec.low_open)


def validate(config: TrainConfig) -> dict[str, str]:
    """Return {field: readable message} for every invalid field; empty when valid."""
    checks = {name: _check(name, getattr(config, name)) for name in FIELD_SPECS}
    if config.nesterov and config.optimizer == "sgd" and config.momentum == 0:
        checks["nesterov"] = "nesterov needs momentum/β1 > 0"
    if config.clean_epochs > config.epochs and field_applies("clean_epochs", config) and not checks["clean_epochs"]:
        epochs = f"{config.epochs} epoch" + "s" * (config.epochs != 1)
        checks["clean_epochs"] = (f"{field_label('clean_epochs')} must be at most the {epochs} "
                                  f"(every epoch would be trained without augmentation), got {config.clean_epochs}")
    return {name: message for name, message in checks.items() if message}


def data_errors(config: TrainConfig, train_digits: int) -> dict[str, str]:
    """What does not fit a training set of ``train_digits`` (before the validation split); empty when it fits."""
    if config.val_size >= train_digits:
        return {"val_size": f"{field_label('val_size')} must be below the {train_digits:,} training digits, "
                            f"got {config.val_size:,}"}
    left = train_digits - config.val_size
    if config.batch_size > left:
        return {"batch_size": f"{field_label('batch_size')} must be at most the {left:,} digits left to train on "
                              f"(training set minus val size), got {config.batch_size:,}"}
    return {}


class ConfigError(ValueError):
    """An invalid config; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def checked(config: TrainConfig) -> TrainConfig:
    """Return the config unchanged, or raise ConfigError listing every problem."""
    errors = validate(config)
    if errors:
        raise ConfigError(errors)
    return config


PRESETS: dict[str, TrainConfig] = {
    # The seed notebook: 784-128-64-10 MLP, Adam 1e-3, batch 64, no schedule.
    "seed-mlp": TrainConfig(
        model="mlp", hidden=(128, 64), epochs=1, batch_size=64, optimizer="adam", lr=1e-3,
        weight_decay=0.0, schedule="constant", dropout=0.0,
    ),
    # LeCun et al. 1998's layout, trained the modern way.
    "lenet5": TrainConfig(
        model="lenet5", epochs=10, batch_size=128, optimizer="adam", lr=2e-3,
        weight_decay=0.0, schedule="cosine", dropout=0.0,
    ),
    # 99% in one CPU epoch of about a second: a strided first conv (fastcnn, width 16) trained with
    # tuomaso/train_mnist_fast's optimizer (Adam, betas (0.7, 0.9), OneCycle, batch 256) and
    # label smoothing 0.1, which alone added about 0.25 points after one epoch.
    "fast": TrainConfig(
        model="fastcnn", width=16, batchnorm=True, epochs=1, batch_size=256, optimizer="adam", lr=1.5e-2,
        momentum=0.7, beta2=0.9, weight_decay=0.0, schedule="onecycle", dropout=0.0, label_smoothing=0.1,
    ),
    # The long run: five 3-conv CNNs trained side by side and averaged, with per-sample
    # rotation/shift/zoom, label smoothing, dropout and an EMA of the weights, OneCycle over
    # 15 epochs. One width-40 net for 32 epochs cost more and averaged 99.665% (4 seeds).
    # All 60,000 digits (no validation), dropout 0.1 and a mild elastic distortion, tested with
    # shift TTA. Three members made 99.73% over 4 seeds; five, 99.765% (10.5 min each in bf16 on
    # a 2-core Intel VM with AMX: README, Performance).
    # bf16 autocast where the CPU does bf16 natively: 1.4-1.6x faster a step there.
    "best": TrainConfig(
        model="deepcnn", width=32, members=5, epochs=15, batch_size=128, optimizer="adamw", lr=4e-3,
        weight_decay=5e-4, schedule="onecycle", dropout=0.1, label_smoothing=0.05,
        rotate=10.0, translate=0.1, scale=0.1, elastic=12.0, ema=0.999, tta=True, val_size=0, precision="auto",
    ),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named preset with some fields replaced."""
    if name not in PRESETS:
        raise ConfigError({"preset": f"preset must be one of {', '.join(PRESETS)}, got {name!r}"})
    return dataclasses.replace(PRESETS[name], **overrides)


FIELD_SPECS: dict[str, FieldSpec] = {f.name: f.metadata["spec"] for f in fields(TrainConfig)}
FIELD_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(TrainConfig)}


def field_names() -> list[str]:
    return list(FIELD_SPECS)


def field_types() -> dict[str, Any]:
    """Python type of each field's default value (used by the CLI and the form to parse text)."""
    return dict(FIELD_TYPES)


def field_label(name: str) -> str:
    """The form's label of a field ("batch size" for batch_size)."""
    spec = FIELD_SPECS.get(name)
    return spec.label if spec else name.replace("_", " ")


def field_flag(name: str) -> str:
    """The CLI's flag of a field (--batch-size)."""
    return "--" + name.replace("_", "-")


def field_applies(name: str, config: TrainConfig) -> bool:
    """Whether a field changes anything for this config (width means nothing to an mlp)."""
    spec = FIELD_SPECS.get(name)
    return spec is None or spec.applies is None or spec.applies(config)


def unused_because(name: str, config: TrainConfig) -> str:
    """Why ``name`` changes nothing for ``config`` (field_applies is False), in words: train notes a flag the
    user gave (the run goes on), tune refuses to search it (every trial would train the same)."""
    if name == "hidden":
        return f"a {config.model} model has no hidden layers (they are an mlp's)"
    if name in ("width", "batchnorm"):
        return "an mlp model has no convolutions" if config.model == "mlp" else f"{config.model}'s layers are fixed"
    if name == "beta2":
        return f"the optimizer is {config.optimizer} (it is adam's and adamw's)"
    if name == "nesterov":
        return f"the optimizer is {config.optimizer} (it is sgd's)"
    if name in ("step_size", "gamma"):
        return f"the schedule is {config.schedule} (it is the step schedule's)"
    if name == "member_views":
        return "it needs --members 2 or more and an augmentation (--rotate, --translate, --scale or --elastic)"
    if name == "clean_epochs":
        return "there is no augmentation to leave out (--rotate, --translate, --scale or --elastic)"
    return "this config does not use it"


def format_field(name: str, value: Any, *, exact: bool = False) -> str:
    """A field's value as the form and the CLI write it (128,64 · on/off · 0.001); ``exact``: a float whose
    6 digits are not the whole of it in full (a tuned lr rounded to 6 digits trained a different run)."""
    kind = FIELD_TYPES[name]
    if kind is tuple:
        return ",".join(str(h) for h in value)
    if kind is bool:
        return "on" if value else "off"
    if isinstance(value, float):
        short = f"{value:g}"
        return repr(value) if exact and float(short) != value else short
    return str(value)


def continued_lr(config: TrainConfig) -> float:
    """The rate epochs added to a finished run start at: a tenth of onecycle's peak (its warm-up would undo the
    converged weights), else the configured rate."""
    return config.lr / (10 if config.schedule == "onecycle" else 1)


def more_epochs_lr(config: TrainConfig, factor: float = 1.0) -> str:
    """What the learning rate does over epochs added to a finished run (``Trainer._continue_schedule``);
    ``factor``: the steering the run ended with, which the added epochs keep."""
    lr = config.lr * factor
    steered = f" (×{factor:g} as steered)" if factor != 1 else ""
    return {"onecycle": f"the learning rate restarts at {continued_lr(config) * factor:g}, a tenth of its peak"
                        f"{steered}, and decays again",
            "cosine": f"the learning rate restarts at {lr:g}{steered} and decays again",
            "step": f"the step schedule starts again at {lr:g}{steered}"}.get(
        config.schedule, f"the learning rate stays {lr:g}{steered}")


def parse_field(name: str, text: str) -> Any:
    """A field's value from text (the form's and the CLI's one parser); raises ValueError with a message.

    Only the type is checked here; bounds and choices are :func:`validate`'s.
    """
    kind, label = FIELD_TYPES[name], field_label(name)
    text = text.strip()
    if kind is bool:
        if text.lower() in ("on", "true", "yes", "1"):
            return True
        if text.lower() in ("off", "false", "no", "0"):
            return False
        raise ValueError(f"{label} must be on or off, got {text!r}")
    if kind is str:
        return text
    # Python's int() and float() also take "1_0" (10) and other scripts' digits ("١"): a typo read as a number
    plain = text.isascii() and "_" not in text
    if kind is tuple:
        parts = [part.strip() for part in text.split(",")] if text else []  # "128 64" is no 12864
        try:
            if not plain or not all(parts):  # "128,,64" is a typo, not 128,64
                raise ValueError
            return tuple(int(part) for part in parts)
        except ValueError:
            raise ValueError(f"{label} must be layer sizes like 128,64, got {text!r}") from None
    try:
        if not plain:
            raise ValueError
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{label} must be {what}, got {text!r}") from None


__all__ = [
    "CLASS_NAMES", "DATASET_TITLES", "DATASETS", "DEVICES", "MODELS", "OPTIMIZERS", "PRECISIONS", "PRESETS", "SCHEDULES", "ConfigError",
    "FIELD_SPECS", "FIELD_TYPES", "FieldSpec", "TrainConfig", "checked", "data_errors", "field_applies", "field_flag", "field_label",
    "unused_because", "continued_lr", "field_names", "format_field", "more_epochs_lr", "parse_field", "field_types",
    "preset", "validate",
]
