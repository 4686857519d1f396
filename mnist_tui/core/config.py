"""TrainConfig: every training knob in one frozen, validated dataclass.

Pure Python on purpose: the CLI's ``--help`` and the TUI's form import this
without paying for torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from typing import Any

MODELS = ("mlp", "lenet5", "cnn", "deepcnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
DATASETS = ("mnist", "fashion-mnist", "kmnist")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "kmnist": "KMNIST"}
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a run trains. Validate with :func:`validate`."""

    model: str = "cnn"
    hidden: tuple[int, ...] = (128, 64)  # MLP hidden layer sizes
    width: int = 32  # CNN channels in the first block (later blocks scale from it)
    members: int = 1  # networks trained side by side from different inits; predictions average them
    epochs: int = 2
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 3e-3
    momentum: float = 0.9  # sgd momentum; also beta1 for adam/adamw
    beta2: float = 0.999  # adam/adamw second-moment decay
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    step_size: int = 1  # epochs between decays for the step schedule
    gamma: float = 0.7  # decay factor for the step schedule
    dropout: float = 0.1
    batchnorm: bool = True  # CNN: batchnorm after each conv
    label_smoothing: float = 0.0
    rotate: float = 0.0  # augmentation: max rotation in degrees
    translate: float = 0.0  # augmentation: max shift as a fraction of the image side
    scale: float = 0.0  # augmentation: max relative zoom in or out
    elastic: float = 0.0  # augmentation: elastic distortion strength (Simard's alpha, pixels; 0 = off)
    ema: float = 0.0  # exponential moving average of weights (0 = off, else decay)
    val_size: int = 5000
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads (0 = torch's default)
    dataset: str = "mnist"

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


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str | None:
    if value not in options:
        return f"{name} must be one of {', '.join(options)}, got {value!r}"
    return None


def validate(config: TrainConfig) -> dict[str, str]:
    """Return {field: readable message} for every invalid field; empty when valid."""
    c = config
    checks: dict[str, str | None] = {
        "model": _choice("model", c.model, MODELS),
        "width": _integer("width", c.width, 1, 512),
        "members": _integer("members", c.members, 1, 16),
        "epochs": _integer("epochs", c.epochs, 1, 1000),
        "batch_size": _integer("batch_size", c.batch_size, 1, 65536),
        "optimizer": _choice("optimizer", c.optimizer, OPTIMIZERS),
        "lr": _range("lr", c.lr, 0, 10, low_open=True),
        "momentum": _range("momentum", c.momentum, 0, 0.9999),
        "beta2": _range("beta2", c.beta2, 0, 0.99999),
        "weight_decay": _range("weight_decay", c.weight_decay, 0, 1),
        "schedule": _choice("schedule", c.schedule, SCHEDULES),
        "step_size": _integer("step_size", c.step_size, 1, 1000),
        "gamma": _range("gamma", c.gamma, 0, 1, low_open=True),
        "dropout": _range("dropout", c.dropout, 0, 0.95),
        "label_smoothing": _range("label_smoothing", c.label_smoothing, 0, 0.5),
        "rotate": _range("rotate", c.rotate, 0, 90),
        "translate": _range("translate", c.translate, 0, 0.5),
        "scale": _range("scale", c.scale, 0, 0.5),
        "elastic": _range("elastic", c.elastic, 0, 100),
        "ema": _range("ema", c.ema, 0, 0.99999),
        "val_size": _integer("val_size", c.val_size, 0, 30000),
        "seed": _integer("seed", c.seed, 0, 2**31 - 1),
        "device": _choice("device", c.device, DEVICES),
        "threads": _integer("threads", c.threads, 0, 256),
        "dataset": _choice("dataset", c.dataset, DATASETS),
    }
    if not c.hidden or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 8192 for h in c.hidden):
        checks["hidden"] = f"hidden must be 1 or more layer sizes between 1 and 8192, got {list(c.hidden)!r}"
    if c.nesterov and c.optimizer == "sgd" and c.momentum == 0:
        checks["nesterov"] = "nesterov needs momentum > 0"
    return {name: message for name, message in checks.items() if message}


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
    # 99% in one CPU epoch of a few seconds: tuomaso/train_mnist_fast's recipe (conv 24 5x5,
    # conv 32 3x3, Adam 1e-2 with betas (0.7, 0.9), OneCycle, batch 256) plus batchnorm.
    "fast": TrainConfig(
        model="cnn", width=24, batchnorm=True, epochs=1, batch_size=256, optimizer="adam", lr=1e-2,
        momentum=0.7, beta2=0.9, weight_decay=0.0, schedule="onecycle", dropout=0.0,
    ),
    # The long run: three 3-conv CNNs trained side by side and averaged, with per-sample
    # rotation/shift/zoom, label smoothing, dropout and an EMA of the weights, OneCycle over
    # 15 epochs. One width-40 net for 32 epochs cost more and averaged 99.665% (4 seeds).
    "best": TrainConfig(
        model="deepcnn", width=32, members=3, epochs=15, batch_size=128, optimizer="adamw", lr=4e-3,
        weight_decay=5e-4, schedule="onecycle", dropout=0.2, label_smoothing=0.05,
        rotate=10.0, translate=0.1, scale=0.1, ema=0.999,
    ),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named preset with some fields replaced."""
    if name not in PRESETS:
        raise ConfigError({"preset": f"preset must be one of {', '.join(PRESETS)}, got {name!r}"})
    return dataclasses.replace(PRESETS[name], **overrides)


_LABELS = {
    "dataset": "dataset", "model": "model", "hidden": "hidden (mlp)", "width": "width (cnn)",
    "members": "ensemble size", "epochs": "epochs", "batch_size": "batch size", "optimizer": "optimizer",
    "lr": "learning rate", "momentum": "momentum/β1", "beta2": "β2 (adam)", "nesterov": "nesterov",
    "weight_decay": "weight decay", "schedule": "schedule", "step_size": "step (epochs)", "gamma": "step gamma",
    "dropout": "dropout", "batchnorm": "batchnorm", "label_smoothing": "label smooth", "rotate": "aug rotate °",
    "translate": "aug translate", "scale": "aug scale", "elastic": "aug elastic", "ema": "EMA decay",
    "val_size": "val size", "seed": "seed", "device": "device", "threads": "threads (0=auto)",
}


def field_label(name: str) -> str:
    """The form's label of a field ("batch size" for batch_size)."""
    return _LABELS.get(name, name.replace("_", " "))


def field_applies(name: str, config: TrainConfig) -> bool:
    """Whether a field changes anything for this config (width means nothing to an mlp)."""
    rules = {
        "hidden": config.model == "mlp", "width": config.model != "mlp",
        "batchnorm": config.model in ("cnn", "deepcnn"), "beta2": config.optimizer in ("adam", "adamw"),
        "nesterov": config.optimizer == "sgd", "step_size": config.schedule == "step",
        "gamma": config.schedule == "step",
    }
    return rules.get(name, True)


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def field_types() -> dict[str, Any]:
    """Python type of each field's default value (used by the CLI and the form to parse text)."""
    return {f.name: type(getattr(TrainConfig(), f.name)) for f in fields(TrainConfig)}


__all__ = [
    "CLASS_NAMES", "DATASET_TITLES", "DATASETS", "DEVICES", "MODELS", "OPTIMIZERS", "PRESETS", "SCHEDULES", "ConfigError",
    "TrainConfig", "checked", "field_applies", "field_label", "field_names", "field_types", "preset", "validate",
]
