"""A tiny real run on the synthetic data, shared by the explain/embedding/label-error tests."""

from __future__ import annotations

from pathlib import Path

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.engine import Trainer
from mnist_tui.core.events import Finished

TINY = TrainConfig(model="mlp", hidden=(32,), epochs=3, batch_size=32, optimizer="adam", lr=3e-3,
                   schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)


def train_tiny_run(data, checkpoints_dir: Path, name: str, config: TrainConfig = TINY) -> Path:
    """Train ``config`` on ``data`` and return the run folder (holding best.pt)."""
    events = list(Trainer(config, data, checkpoints_dir=checkpoints_dir, run_name=name).run())
    assert isinstance(events[-1], Finished), events[-1]
    return checkpoints_dir / name
