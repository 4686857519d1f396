"""The console script (`mnist-tui`, `python -m mnist_tui.cli`) ends a headless command with os._exit,
skipping Python's slow teardown, once the command's output and files are complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mnist_tui.cli import FAST_EXIT_COMMANDS
from mnist_tui.commands import COMMAND_MODULES
from mnist_tui.core.checkpoints import load_checkpoint
from mnist_tui.core.run_lock import owner
from mnist_tui.core.runs import read_metrics, read_result

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100", "--threads", "1"]
# the console script, in a process whose exit hooks say whether Python's own exit ran
SCRIPT = ("import atexit, sys; atexit.register(lambda: print('python exit ran', file=sys.stderr)); "
          "from mnist_tui.cli import run; sys.exit(run())")


def console(*args: str) -> subprocess.CompletedProcess:
    """The console script with ``args``; stdout and stderr are pipes."""
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def test_train_exits_at_once_with_its_output_and_files_complete(synthetic_root, tmp_path):
    done = console("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                   "--epochs", "2", "--run-name", "r", "--json", "--every-point")
    assert done.returncode == 0, done.stderr
    assert "python exit ran" not in done.stderr  # os._exit: the exit hooks were skipped
    events = [json.loads(line) for line in done.stdout.splitlines()]  # every line whole, none lost in a buffer
    assert events[0]["event"] == "started" and events[-1]["event"] == "finished"
    run = tmp_path / "r"
    assert load_checkpoint(run / "last.pt")["epoch"] == 2 and load_checkpoint(run / "best.pt")
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]
    assert read_result(run)["test_accuracy"] == events[-1]["test_accuracy"]
    assert (run / "misclassified.pt").is_file() and owner(run) is None  # the run lock is released
    assert not list(run.glob(".*.tmp"))

    # the progress bar's summary, written through rich to a pipe, is complete too
    table = console("runs", "--checkpoints", str(tmp_path))
    assert table.returncode == 0 and "r " in table.stdout and "python exit ran" not in table.stderr
    again = console("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                    "--epochs", "1", "--run-name", "s")
    assert again.returncode == 0 and f"Saved in {tmp_path / 's'}" in again.stdout.replace("\n", "")


def test_a_refused_command_still_says_why_and_exits_2(tmp_path):
    done = console("eval", str(tmp_path / "nothing-here"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("mnist-tui: ")


def test_the_app_serve_and_tune_exit_the_ordinary_way():
    # the app and serve restore the terminal and stop their children in Python's exit; tune closes its storage
    assert not {None, "serve", "tune"} & FAST_EXIT_COMMANDS
    assert FAST_EXIT_COMMANDS <= set(COMMAND_MODULES)
    done = console("--help")
    assert done.returncode == 0 and "python exit ran" in done.stderr


def test_the_installed_script_and_python_m_use_it(tmp_path):
    assert 'mnist-tui = "mnist_tui.cli:run"' in (REPO / "pyproject.toml").read_text()
    as_module = ("import atexit, runpy, sys; atexit.register(lambda: print('python exit ran', file=sys.stderr)); "
                 "runpy.run_module('mnist_tui.cli', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", as_module, "runs", "--checkpoints", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0 and "No runs in" in done.stdout and "python exit ran" not in done.stderr
