"""Export a trained model for deployment: an ONNX file or a TorchScript file.

The exported network takes what MNIST's files hold, uint8 pixels ``[batch, 28, 28]``
(0-255, light ink on black), and returns probabilities ``[batch, 10]``: normalisation
and softmax (and an ensemble's averaging) are inside it, so a user needs no mnist-tui
code to run it. Every export is checked against the PyTorch model before it is kept.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .atomic import FULL_DISK_ERRNOS, DiskFull, file_mode, sync_folder
from .data import MEAN, STD
from .runs import EXPORT_FILES

FORMATS = ("onnx", "torchscript")
DEFAULT_FILENAMES = dict(zip(FORMATS, EXPORT_FILES))  # in the run folder; training it further removes them
TOLERANCE = 1e-4  # max abs difference of probabilities an export may show against torch
CHECK_DIGITS = 1000  # test digits the check runs on
ONNX_EXTRA = "pip install 'mnist-tui[onnx]'"


class ExportError(RuntimeError):
    """The exported model disagrees with the PyTorch one; nothing was written."""


class MissingDependency(RuntimeError):
    """A package the chosen format needs is not installed; the message says how to get it."""


class OutputUnwritable(RuntimeError):
    """The export's folder cannot be made or written in (read-only, a file in the way, ...)."""


class Deployable(nn.Module):
    """uint8 pixels [B, 28, 28] -> probabilities [B, 10], the whole pipeline in one module."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval().requires_grad_(False)  # its outputs need no grad (numpy() warned without)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.unsqueeze(1).float() / 255.0 - MEAN) / STD
        # an Ensemble in eval mode returns log mean probabilities: softmax turns them back
        return F.softmax(self.model(x).float(), dim=1)


@dataclass(frozen=True)
class CheckDigits:
    images: torch.Tensor  # uint8 [N, 28, 28]
    source: str  # what they are, for the user: "1000 MNIST test digits", ...
    test_set: bool = False  # from the test set on disk (else saved or random digits)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    max_abs_difference: float  # probabilities, exported vs torch
    agreeing_predictions: int  # digits whose argmax is the same in both
    checked: int  # digits compared
    check_source: str
    opset: int | None = None  # ONNX only


def check_digits(run_dir: str | os.PathLike[str] | None, data_dir: str | os.PathLike[str] | None = None,
                 dataset: str = "mnist", count: int = CHECK_DIGITS) -> CheckDigits:
    """Digits to compare the export on: the test set if it is on disk (never downloaded),
    else the run's saved misclassified test digits, else seeded random pixels."""
    from .data import DataUnavailable, load_mnist

    try:
        data = load_mnist(data_dir, download=False, dataset=dataset, only="test")
        images = data.test_images[:count]
        return CheckDigits(images, f"{len(images):,} test digits from {data.source}", test_set=True)
    except DataUnavailable:
        pass
    if run_dir is not None and (Path(run_dir) / "misclassified.pt").is_file():
        try:
            saved = torch.load(Path(run_dir) / "misclassified.pt", map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged file holds no digits to check on: random ones then
            saved = None
        images = saved.get("images") if isinstance(saved, dict) else None
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and len(images):
            images = images[:count]
            return CheckDigits(images, f"{len(images):,} misclassified test digits saved with the run (test set not on disk)")
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (min(count, 256), 28, 28), dtype=torch.uint8, generator=generator)
    return CheckDigits(images, f"{len(images)} random images (no test digits on disk or saved with the run)")


def require_onnx() -> None:
    """Raise MissingDependency unless onnx, onnxscript and onnxruntime all import."""
    import importlib
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependency(f"ONNX export needs {', '.join(missing)}: {ONNX_EXTRA} "
                                f"(or export with --format torchscript)")
    for name in ("onnx", "onnxscript", "onnxruntime"):  # installed, but a library of theirs may not load
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise MissingDependency(f"{name} is installed but does not import ({exc}): reinstall it: "
                                    f"{ONNX_EXTRA.replace('install', 'install --force-reinstall')}") from None


def torch_probabilities(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The PyTorch model's probabilities, through the same code path evaluation uses."""
    from .analysis import predict_probabilities

    return predict_probabilities(model, images)


def onnx_probabilities(path: str | os.PathLike[str], images: torch.Tensor) -> torch.Tensor:
    """Run an exported ONNX file in onnxruntime on uint8 images."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    return torch.from_numpy(output)


def torchscript_probabilities(path: str | os.PathLike[str], images: torch.Tensor) -> torch.Tensor:
    """Load an exported TorchScript file and run it on uint8 images."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return loaded(images)


def _onnx_bytes(deployable: Deployable) -> tuple[bytes, int]:
    """The ONNX file, serialised in memory (with its opset): written by plain writes, a full disk says so."""
    example = torch.zeros(2, 28, 28, dtype=torch.uint8)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            deployable, (example,), input_names=["pixels"], output_names=["probabilities"],
            dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, verbose=False,
        )
        return program.model_proto.SerializeToString(), int(program.model.opset_imports[""])  # one file, no
        # external data


def _torchscript_bytes(deployable: Deployable) -> bytes:
    """The TorchScript file in memory: torch's own file writer aborts the process in C++ on a full disk."""
    example = torch.zeros(2, 28, 28, dtype=torch.uint8)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # FutureWarning: torch.jit is deprecated
        torch.jit.save(torch.jit.trace(deployable, example), buffer)
    return buffer.getvalue()


def _write(tmp: str, data: bytes, folder: Path) -> None:
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in FULL_DISK_ERRNOS:
            raise DiskFull(folder, len(data)) from None
        raise


def _temporary_beside(out: Path) -> str:
    """An empty temporary file in ``out``'s folder (made if missing); OutputUnwritable if that fails."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        blocking = next((p for p in (out.parent, *out.parent.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocking} is a file, not a folder" if blocking else (exc.strerror or str(exc))
        raise OutputUnwritable(f"cannot write {out}: {why}") from None
    os.close(fd)
    return tmp


def export_model(model: nn.Module, out: str | os.PathLike[str], fmt: str, digits: CheckDigits,
                 tolerance: float = TOLERANCE) -> ExportResult:
    """Write ``model`` to ``out`` in ``fmt``, then load the file back and compare it with torch
    on ``digits``. Raises ExportError (and writes nothing) if any probability differs by more
    than ``tolerance``; MissingDependency if ONNX's packages are absent."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "onnx":
        require_onnx()
    model = model.cpu().eval()
    deployable = Deployable(model).eval()
    expected = torch_probabilities(model, digits.images)
    out = Path(out)
    data, opset = _onnx_bytes(deployable) if fmt == "onnx" else (_torchscript_bytes(deployable), None)
    tmp = _temporary_beside(out)
    try:
        _write(tmp, data, out.parent)
        got = (onnx_probabilities if fmt == "onnx" else torchscript_probabilities)(tmp, digits.images)
        difference = float((got.float() - expected).abs().max()) if len(expected) else 0.0
        agreeing = int((got.argmax(1) == expected.argmax(1)).sum())
        if not difference <= tolerance:  # also catches nan
            raise ExportError(f"the {fmt} export disagrees with the PyTorch model on {digits.source}: "
                              f"max abs difference of probabilities {difference:.2e} > {tolerance:.0e}; "
                              f"{out} was not written")
        os.chmod(tmp, file_mode())  # mkstemp makes it private; the user's umask decides, as for every file
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(out.parent)
    return ExportResult(out, fmt, difference, agreeing, len(expected), digits.source, opset)
