"""Single-digit latency of the shipped model: torch eager, TorchScript and onnxruntime on this CPU.

    python benchmarks/export_latency.py [--run checkpoints/fast-pretrained] [--calls 2000] [--threads 1] [--data-dir D]

The run is exported to a temporary folder in both formats (`mnist_tui.core.export`,
the code `mnist-tui export` runs). Each engine then classifies one uint8 digit
[1, 28, 28] -> probabilities [1, 10], the same pipeline in all three (normalise,
network, softmax). Calls are timed one by one in interleaved rounds (every engine
gets a round, then the next round), so a neighbour's load on the machine falls on
all three alike; the table shows the median and 90th percentile per call, and the
speed against torch eager (its median / this median) measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def engines(run: Path, folder: Path, digits) -> dict:
    """name -> callable(uint8 [1, 28, 28]) returning probabilities, after a checked export."""
    import onnxruntime
    import torch

    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint, resolve_checkpoint
    from mnist_tui.core.export import Deployable, export_model

    model, _ = model_from_checkpoint(load_checkpoint(resolve_checkpoint(run, ROOT / "checkpoints")))
    deployable = Deployable(model).eval()
    onnx_result = export_model(model, folder / "model.onnx", "onnx", digits)
    ts_result = export_model(model, folder / "model.torchscript.pt", "torchscript", digits)
    for result in (onnx_result, ts_result):
        print(f"  exported {result.format}: max abs difference {result.max_abs_difference:.1e} on {result.check_source}")

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(ts_result.path))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(onnx_result.path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def torch_eager(x):
        with torch.inference_mode():
            return deployable(x)

    def torchscript(x):
        with torch.inference_mode():
            return scripted(x)

    def onnx_runtime(x):
        return session.run(None, {name: x.numpy()})[0]

    return {"torch eager": torch_eager, "TorchScript": torchscript, "onnxruntime": onnx_runtime}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="checkpoints/fast-pretrained", help="run folder, checkpoint or run name")
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per engine (default 2000)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds the calls are split into")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and onnxruntime threads (default 1: one digit gains nothing from more, "
                        "and on a busy 2-core machine 2 threads add 10-50 ms tails; 0 = torch's default)")
    parser.add_argument("--data-dir", help="MNIST root for the export check (default: the run's saved digits)")
    args = parser.parse_args(argv)

    import torch

    from mnist_tui.core.export import check_digits
    from mnist_tui.core.checkpoints import resolve_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    run = resolve_checkpoint(args.run, ROOT / "checkpoints")
    digits = check_digits(run.parent, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="export-latency-") as folder:
        calls = engines(run, Path(folder), digits)
        inputs = [digits.images[i % len(digits.images)].unsqueeze(0).contiguous() for i in range(64)]
        for call in calls.values():  # warm up: first calls allocate and (TorchScript) optimise
            for x in inputs:
                call(x)
        times: dict[str, list[float]] = {name: [] for name in calls}
        per_round = max(1, args.calls // args.rounds)
        for _ in range(args.rounds):
            for name, call in calls.items():
                for i in range(per_round):
                    x = inputs[i % len(inputs)]
                    start = time.perf_counter()
                    call(x)
                    times[name].append(time.perf_counter() - start)

    base = statistics.median(times["torch eager"])
    print(f"single-digit latency, {run} on {torch.get_num_threads()} threads, "
          f"{per_round * args.rounds} calls each in {args.rounds} interleaved rounds")
    print(f"{'engine':<14}{'median us':>11}{'p90 us':>9}{'speed vs torch eager':>22}")
    for name, samples in times.items():
        median = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{name:<14}{median * 1e6:>11.0f}{p90 * 1e6:>9.0f}{base / median:>21.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
