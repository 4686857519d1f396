"""Headless `train` stops at the next batch and saves on SIGTERM and SIGHUP, as on Ctrl+C (a real process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.core.checkpoints import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100", "--threads", "1",
        "--epochs", "1000"]  # far more than it gets to: the signal comes after the first step


def train_until_first_step(args: list[str], signum: int, ignored: int | None = None) -> tuple[int, list[dict], str]:
    """Start `mnist-tui train --json ...` (with ``ignored`` ignored from its start, as nohup ignores SIGHUP), send
    ``signum`` after its first step event; (exit code, events, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", "train", "--json", "--every-point", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               preexec_fn=None if ignored is None else lambda: signal.signal(ignored, signal.SIG_IGN))
    events = []
    try:
        for line in process.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "step":
                process.send_signal(signum)
                break
        events += [json.loads(line) for line in process.stdout]
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, events, process.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_train_with_a_resumable_checkpoint(tmp_path, synthetic_root, signum):
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    code, events, err = train_until_first_step([*common, *TINY, "--run-name", "r"], signum)
    assert code == 128 + signum, err  # 143 and 129, as a shell says a process ended by them (130 is Ctrl+C's)
    assert events[-1]["event"] == "stopped" and "Traceback" not in err
    saved, stopped = events[-2], events[-1]  # the same place, said the same way ("epoch": 0, then 1: walk21 F8)
    assert saved["event"] == "checkpoint" and (saved["epoch"], saved["step"]) == (stopped["epoch"], stopped["step"])
    checkpoint = load_checkpoint(tmp_path / "r" / "last.pt")
    assert checkpoint["config"]["epochs"] == 1000

    # it resumes from where it stopped (and stops again the same way)
    code, events, err = train_until_first_step([*common, "--resume", "r"], signum)
    assert code == 128 + signum, err
    started = events[0]
    assert started["event"] == "started" and started["run_dir"] == str(tmp_path / "r")
    assert events[-1]["event"] == "stopped"


def test_a_burst_of_ctrl_c_still_saves_and_says_how_to_resume(tmp_path, synthetic_root):
    """Three Ctrl+C 50 ms apart left a run with only its config.json (the second interrupted the save), and
    nothing was said after the first; with --json the resume command was not printed either (walk21 F5, F8)."""
    process = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", "train", "--json", "--every-point",
                                "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                                "--run-name", "r"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        for line in process.stdout:
            if json.loads(line)["event"] == "step":
                for _ in range(3):
                    process.send_signal(signal.SIGINT)
                break
        events = [json.loads(line) for line in process.stdout]
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = process.stderr.read()
    assert code == 130 and events[-1]["event"] == "stopped", err
    assert "Traceback" not in err and "Ctrl+C again" in err and "resume with:" in err, err
    assert load_checkpoint(tmp_path / "r" / "last.pt")["config"]["epochs"] == 1000


def test_a_signal_ignored_from_the_start_stays_ignored(tmp_path, synthetic_root):
    """Under nohup (SIGHUP ignored) the closed SSH session's SIGHUP stopped the run all the same: train's own
    handler replaced the ignore once it started (walk35 F11)."""
    args = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY[:-2], "--epochs", "2"]
    code, events, err = train_until_first_step(args, signal.SIGHUP, ignored=signal.SIGHUP)
    assert code == 0, err
    assert events[-1]["event"] == "finished" and not any(e["event"] == "stopped" for e in events)
