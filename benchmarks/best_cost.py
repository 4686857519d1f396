"""What the `best` preset's last changes cost in time, on this machine, in one run.

    python benchmarks/best_cost.py [--steps 20] [--rounds 3]

The preset now trains on all 60,000 digits (no validation split), adds a mild elastic
distortion, and tests with shift TTA. Each round times, one after the other: a training
step of the preset with and without elastic (the engine's own step: augmentation, forward,
loss, backward, optimizer, EMA; after warm-up steps), the per-epoch validation pass over
5,000 digits that the old preset paid for, and the final test of 10,000 digits with and
without TTA. Prints the medians and the training time of the new preset as a ratio of the
old one's: (60,000 / 55,000 steps x the step ratio) against the old epoch's validation.
Synthetic digits, so no dataset is needed; times are this machine's, compared in this run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from precision_step import step_seconds  # noqa: E402  (the same engine-step timer)


def evaluation_seconds(members: int, digits: int, tta: bool) -> float:
    """Seconds to test ``digits`` synthetic digits with the preset's model (``members`` nets averaged)."""
    import torch

    from mnist_tui.core.analysis import evaluate
    from mnist_tui.core.config import preset
    from mnist_tui.core.models import build_model

    config = preset("best", members=members)
    model = build_model(config)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (digits, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (digits,), generator=generator)
    evaluate(model, images[:500], labels[:500], tta=tta)  # warm-up
    start = time.perf_counter()
    evaluate(model, images, labels, tta=tta)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    from mnist_tui.core.config import preset

    members = preset("best").members
    times: dict[str, list[float]] = {"step": [], "step without elastic": [], "validation": [], "test": [],
                                     "test with TTA": []}
    for _ in range(args.rounds):
        times["step"].append(step_seconds("best", "auto", args.steps))
        times["step without elastic"].append(step_seconds("best", "auto", args.steps, elastic=0.0))
        times["validation"].append(evaluation_seconds(members, 5000, tta=False))
        times["test"].append(evaluation_seconds(members, 10_000, tta=False))
        times["test with TTA"].append(evaluation_seconds(members, 10_000, tta=True))
    median = {name: statistics.median(values) for name, values in times.items()}
    steps_old, steps_new = 55_000 // 128 + 1, 60_000 // 128 + 1
    epoch_old = steps_old * median["step without elastic"] + median["validation"]
    epoch_new = steps_new * median["step"]
    plain = median["step without elastic"]
    print(f"best, {torch.get_num_threads()} threads, median of {args.rounds}: step {median['step'] * 1000:.1f} ms "
          f"(without elastic {plain * 1000:.1f} ms, x{median['step'] / plain:.3f}); "
          f"validation of 5,000 {median['validation']:.2f} s; test {median['test']:.2f} s, "
          f"with TTA {median['test with TTA']:.2f} s")
    print(f"an epoch: {epoch_new:.1f} s on 60,000 digits with elastic against {epoch_old:.1f} s on 55,000 "
          f"without, validation included: training time x{epoch_new / epoch_old:.3f} of the old preset's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
