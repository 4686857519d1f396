"""A training step of a preset in fp32 against bf16 autocast, on this machine, in one run.

    python benchmarks/precision_step.py [--preset best] [--steps 20] [--rounds 3]

Each round times ``--steps`` steps of the preset's training (the engine's own step:
augmentation, forward, loss, backward, optimizer, EMA) in each precision, one after the
other, after a few warm-up steps; synthetic digits, so no dataset is needed. Prints the
median step time of each and their ratio, and whether this CPU does bf16 natively (what
``precision=auto`` goes by).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def step_seconds(preset_name: str, precision: str, steps: int, **overrides) -> float:
    """Seconds per step of ``steps`` steps after 5 warm-up steps, through the engine (``overrides``: fields)."""
    import torch

    from mnist_tui.core.config import checked, preset
    from mnist_tui.core.data import MnistData
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.events import StepMetrics

    generator = torch.Generator().manual_seed(0)
    digits = torch.randint(0, 256, (8000, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (8000,), generator=generator)
    data = MnistData(digits, labels, digits[:500], labels[:500], "synthetic")
    config = checked(preset(preset_name, **{"precision": precision, "epochs": 1, "val_size": 0, **overrides}))
    with tempfile.TemporaryDirectory(prefix="precision-") as folder:  # its run goes with it
        trainer = Trainer(config, data, checkpoints_dir=folder, points_per_epoch=10_000)  # the clock read each step
        events = trainer.run()
        start = first = None
        try:
            for event in events:
                if isinstance(event, StepMetrics):
                    if event.step == 5:
                        start, first = time.perf_counter(), event.step
                    elif start is not None and event.step == first + steps:
                        return (time.perf_counter() - start) / steps
        finally:
            events.close()
    raise SystemExit(f"the preset has fewer than {steps + 5} steps in 8,000 digits")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="best")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    from mnist_tui.core.runtime import native_bf16

    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in times:
            times[precision].append(step_seconds(args.preset, precision, args.steps))
    fp32, bf16 = (statistics.median(times[p]) for p in ("fp32", "bf16"))
    print(f"{args.preset} step x{args.rounds}: fp32 {fp32 * 1000:.1f} ms, bf16 {bf16 * 1000:.1f} ms, "
          f"fp32/bf16 {fp32 / bf16:.2f}x (native bf16 on this CPU: {'yes' if native_bf16(torch.device('cpu')) else 'no'}; "
          f"{torch.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
