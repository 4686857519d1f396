"""``mnist-tui export``: write a run's model as ONNX or TorchScript, checked against PyTorch."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .common import EXIT_OK, UsageError, add_path_flags, load_models, output_file, stderr

EXIT_CHECK_FAILED = 1
FORMATS = ("onnx", "torchscript")  # core.export.FORMATS, repeated so --help needs no torch
DEFAULT_FILENAMES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}
FORMAT_NAMES = {"onnx": "an ONNX", "torchscript": "a TorchScript"}
SUFFIXES = {"onnx": (".onnx",), "torchscript": (".pt", ".pth")}  # the names each format's files go by


def _named_for_the_other_format(out: str, fmt: str) -> str | None:
    """The format ``out``'s extension says when it is not ``fmt`` (m.pt with the default onnx)."""
    suffix = Path(out).suffix.lower()
    other = next((name for name, suffixes in SUFFIXES.items() if suffix in suffixes), None)
    return other if other not in (None, fmt) else None


def _an_export(path: Path, fmt: str) -> bool:
    """Whether ``path`` is a file ``export`` may write over: an earlier export in ``fmt`` (not a checkpoint)."""
    from ..core.checkpoints import export_kind

    return export_kind(path) == f"{FORMAT_NAMES[fmt]} export"


def register(sub) -> None:
    parser = sub.add_parser(
        "export", help="export a model as ONNX or TorchScript",
        description="Export a run's model for deployment. The file takes uint8 pixels [batch, 28, 28] "
        "(0-255, light ink on black, as in MNIST) and returns probabilities [batch, 10]. It is run "
        "once against the PyTorch model on test digits and kept only if they agree.")
    parser.add_argument("run", metavar="RUN", help="checkpoint file, run folder or run name")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default: onnx)")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write (default: model.onnx / model.torchscript.pt in the run folder; "
                             "for a shipped model, RUN-model.onnx here)")
    parser.add_argument("--tolerance", type=float, default=1e-4, metavar="P",
                        help="fail if any probability differs from PyTorch's by more (default: 1e-4)")
    add_path_flags(parser, checkpoints="folder run names are looked up in")
    parser.set_defaults(handler=run)


def default_out(run_dir: Path, fmt: str) -> Path:
    """Beside the weights, or, for a model shipped in the source tree, in the current folder."""
    from ..core.runs import is_shipped

    if is_shipped(run_dir):
        return Path(f"{run_dir.name}-{DEFAULT_FILENAMES[fmt]}")
    return run_dir / DEFAULT_FILENAMES[fmt]


def run(args: argparse.Namespace) -> int:
    from ..core.export import ExportError, MissingDependency, OutputUnwritable, check_digits, export_model

    taken = args.out and Path(args.out).is_file() and Path(args.out).stat().st_size  # (then refused below)
    if args.out and (other := _named_for_the_other_format(args.out, args.format)) and \
            not (taken and not _an_export(Path(args.out), other)):  # a checkpoint.pt: --format torchscript won't do
        raise UsageError(f"--out {args.out} names {FORMAT_NAMES[other]} file, but --format is {args.format}: "
                         f"add --format {other}, or name the file {Path(DEFAULT_FILENAMES[args.format]).suffix}")
    if not 0 <= args.tolerance < math.inf:
        raise UsageError(f"--tolerance must be a number >= 0, got {args.tolerance:g}")  # -1, not -1.0
    models, configs, paths = load_models([args.run], Path(args.checkpoints), "cpu")
    checkpoint = Path(paths[0])
    out = output_file(Path(args.out)) if args.out else default_out(checkpoint.parent, args.format)
    if out.is_file() and out.stat().st_size and not _an_export(out, args.format):  # a notes.txt, a last.pt: replaced
        raise UsageError(f"--out {args.out or out} exists and is not {FORMAT_NAMES[args.format]} export: give "
                         "another name, or delete it first")
    digits = check_digits(checkpoint.parent, args.data_dir, configs[0].dataset)
    if args.data_dir and not digits.test_set:  # the folder named holds no test set: said, not quietly worked round
        stderr(f"note: no {configs[0].dataset} test set in {args.data_dir}: checking on {digits.source}")
    try:
        result = export_model(models[0], out, args.format, digits, tolerance=args.tolerance)
    except (MissingDependency, OutputUnwritable) as exc:
        raise UsageError(str(exc)) from None
    except ExportError as exc:
        stderr(str(exc))
        return EXIT_CHECK_FAILED
    if result.path.suffix.lower() not in SUFFIXES[args.format]:  # x.txt: written as asked, and said
        stderr(f"note: {result.path} holds {FORMAT_NAMES[args.format]} model, though its name does not end in "
               f"{SUFFIXES[args.format][0]}")
    size_kb = result.path.stat().st_size / 1024
    opset = f", opset {result.opset}" if result.opset else ""
    # a line a fact, the paths on lines of their own: it reads at 80 columns (the lines were 105-160 long)
    print(f"exported {checkpoint}\n  -> {result.path}\n  {result.format}{opset}, dynamic batch, {size_kb:,.0f} KB")
    print(f"checked on {result.check_source}:\n  max abs difference of probabilities vs PyTorch "
          f"{result.max_abs_difference:.1e} (limit {args.tolerance:.0e})\n"
          f"  same prediction on {result.agreeing_predictions:,}/{result.checked:,}")
    print("input: pixels uint8 [batch, 28, 28], 0-255, light ink on black\noutput: probabilities float32 [batch, 10]")
    return EXIT_OK
