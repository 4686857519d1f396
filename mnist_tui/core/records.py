"""A run's record files, read and written without torch: ``metrics.jsonl`` (a line per epoch, and a line per
learning-rate change between them), ``points.jsonl`` (the chart points) and ``result.json``.

Appends are whole lines (a torn last line, a crash mid-write, is skipped on reading); what a run recorded
after the checkpoint it resumes from is rewritten away (``rewrite_after``). ``runs.py`` re-exports these.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .atomic import append_text, write_text_atomic


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    append_text(Path(run_dir) / "metrics.jsonl", json.dumps(record) + "\n", sync=True)


def append_event(run_dir: Path, record: dict[str, Any]) -> None:
    """A mid-epoch record (a learning-rate change) in metrics.jsonl, between the epoch records."""
    append_metrics(run_dir, record)


def append_points(run_dir: Path, points: list[dict[str, Any]]) -> None:
    """The chart points of part of an epoch, to ``points.jsonl`` (so a resumed run shows its whole curve)."""
    if points:
        append_text(Path(run_dir) / "points.jsonl", "".join(json.dumps(p) + "\n" for p in points))


def _records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file; torn or foreign lines (a crash mid-write, garbage) are skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


METRIC_FIGURES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


def _epoch(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a run; a figure that is not a finite number reads as None, seconds as 0."""
    return _epochs_in(_records(Path(run_dir) / "metrics.jsonl"))


def read_metrics_and_steering(run_dir: Path) -> tuple[list[dict[str, Any]], float]:
    """read_metrics and steered_factor from one read of the file (a listing reads every run's)."""
    records = _records(Path(run_dir) / "metrics.jsonl")
    return _epochs_in(records), _last_factor(records)


def _epochs_in(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, **{k: _number(r.get(k)) for k in METRIC_FIGURES}, "seconds": _number(r.get("seconds")) or 0.0}
            for r in records if _epoch(r.get("epoch")) and "lr_factor" not in r]


def read_lr_changes(run_dir: Path) -> list[dict[str, Any]]:
    """Learning-rate steering records: epoch, step, global_step, lr_factor."""
    return [r for r in _records(Path(run_dir) / "metrics.jsonl") if isinstance(r.get("lr_factor"), (int, float))]


def steered_factor(run_dir: Path) -> float:
    """The steering a run ended with (its last record; 1 unsteered), which epochs added to it keep."""
    return _last_factor(_records(Path(run_dir) / "metrics.jsonl"))


def _last_factor(records: list[dict[str, Any]]) -> float:
    changes = [r for r in records if isinstance(r.get("lr_factor"), (int, float))]
    return float(changes[-1]["lr_factor"]) if changes else 1.0


def read_points(run_dir: Path) -> list[dict[str, Any]]:
    """The run's chart points: x (epochs), global_step, loss, accuracy, lr (and seconds: the run's time then)."""
    return [p for p in _records(Path(run_dir) / "points.jsonl")
            if all(isinstance(p.get(k), (int, float)) for k in ("x", "global_step", "loss", "accuracy", "lr"))]


def rewrite_after(run_dir: Path, epochs: int, global_step: int) -> None:
    """Forget what a run recorded after its checkpoint (``epochs`` done, ``global_step``): it is trained again."""
    metrics = [r for r in _records(run_dir / "metrics.jsonl")
               if ("lr_factor" in r and (_number(r.get("global_step")) or 0) <= global_step)
               or ("lr_factor" not in r and _epoch(r.get("epoch")) and r["epoch"] <= epochs)]
    write_text_atomic(run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in metrics))
    points = [p for p in read_points(run_dir) if p["global_step"] <= global_step]
    write_text_atomic(run_dir / "points.jsonl", "".join(json.dumps(p) + "\n" for p in points))


def read_result(run_dir: Path) -> dict[str, Any]:
    """``result.json`` of a finished run, or {} (also when it is damaged: the run reads as not tested)."""
    path = Path(run_dir) / "result.json"
    try:
        result = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return result if isinstance(result, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None
