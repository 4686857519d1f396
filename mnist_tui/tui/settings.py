"""The form's last used values, kept in a small JSON file in the user's config folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.config import PRESETS, TrainConfig, validate

ENV_VAR = "MNIST_TUI_SETTINGS"


def default_settings_path() -> Path:
    """$MNIST_TUI_SETTINGS if set, else ``<user config dir>/mnist-tui/last-form.json``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mnist-tui")) / "last-form.json"


def load_form(path: Path) -> tuple[str | None, TrainConfig | None]:
    """(preset name, config) last saved; (None, None) when missing or unreadable or invalid."""
    try:
        data = json.loads(path.read_text())
        config = TrainConfig.from_dict(data["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if validate(config):
        return None, None
    preset = data.get("preset")
    return (preset if preset in PRESETS else None), config


def initial_form(preset: str | None, path: Path) -> tuple[str | None, TrainConfig]:
    """The form at start: the preset asked for (``--preset``), as it is; else the last values used; else seed-mlp."""
    if preset in PRESETS:
        return preset, PRESETS[preset]
    saved_preset, saved = load_form(path)
    if saved is not None:
        return saved_preset, saved
    return "seed-mlp", PRESETS["seed-mlp"]


def save_form(path: Path, preset: str | None, config: TrainConfig) -> str | None:
    """Write atomically (a failure leaves no temporary file); why it could not, in one line, or None. A failure
    to save settings never stops a run."""
    from ..core.atomic import CheckpointError, write_text_atomic

    try:
        write_text_atomic(path, json.dumps({"preset": preset, "config": config.to_dict()}, indent=2))
    except (OSError, CheckpointError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if path.is_dir():
            return f"The form's values were not kept for next time: {path} is a folder; {ENV_VAR} names the " \
                   "settings file itself"
        return f"The form's values were not kept for next time: {path}: {reason}"
    return None
