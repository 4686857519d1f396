"""A reader that stops early (`mnist-tui ... | head`): no traceback, exit 141, and `train` stops and saves
as on Ctrl+C, so the run resumes. Real processes whose stdout is a pipe nobody reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.core.checkpoints import load_checkpoint
from mnist_tui.core.run_lock import owner
from tests.core.tiny_runs import train_tiny_run

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100", "--threads", "1",
        "--epochs", "2"]


def console_script(args: tuple[str, ...], stdout: int) -> subprocess.CompletedProcess:
    """``mnist-tui ARGS`` (the console script, its fast exit included) with this stdout."""
    return subprocess.run([sys.executable, "-c", "import sys; from mnist_tui.cli import run; sys.exit(run())", *args],
                          stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300)


def with_closed_stdout(*args: str) -> subprocess.CompletedProcess:
    """``mnist-tui ARGS`` writing to a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout fails with EPIPE, as after `| head` exits
    try:
        return console_script(args, write_end)
    finally:
        os.close(write_end)


@pytest.fixture(scope="module")
def finished_run(synthetic_data, tmp_path_factory) -> Path:
    return train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "done")


@pytest.mark.parametrize("command", [["eval", "--json"], ["eval"], ["runs"], ["runs", "--json"]])
def test_a_closed_stdout_ends_quietly_with_141(command, finished_run, synthetic_root):
    name, *flags = command
    target = [str(finished_run)] if name == "eval" else []
    done = with_closed_stdout(name, *target, "--checkpoints", str(finished_run.parent),
                              *(["--data-dir", str(synthetic_root)] if name == "eval" else []), *flags)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "progress-bar"])
def test_train_into_a_closed_stdout_stops_saves_and_resumes(output, synthetic_root, tmp_path):
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    done = with_closed_stdout("train", *common, *TINY, "--run-name", "r", *output)
    run = tmp_path / "r"
    assert done.returncode == 141, done.stderr
    assert done.stderr == (f"mnist-tui: output closed: stopped in epoch 1 and saved {run / 'last.pt'}; "
                           f"resume with: mnist-tui train --resume {run} --data-dir {synthetic_root}\n")
    assert load_checkpoint(run / "last.pt")["config"]["epochs"] == 2 and owner(run) is None

    resumed = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "train", *common, "--resume", "r", "--json"],
                             capture_output=True, text=True, cwd=REPO, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert events[0]["run_dir"] == str(run) and events[-1]["event"] == "finished" and events[-1]["epochs"] == 2


def test_tune_json_whose_reader_leaves_stops_its_trial_saved_and_exits_141(synthetic_root, tmp_path):
    args = ["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY[:-2], "--epochs", "1000",
            "--search", "lr=1e-3:3e-2:log", "--trials", "3", "--study", "headed", "--json"]
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO)
    for line in worker.stdout:  # `| head`: the reader leaves once the first trial is training
        if json.loads(line)["event"] == "trial_epoch":
            break
    worker.stdout.close()
    err = worker.stderr.read()
    assert worker.wait(timeout=300) == 141, err
    assert err == "mnist-tui: output closed: stopping; running trials save last.pt and are marked stopped\n"
    run = tmp_path / "headed-trial000"
    assert (run / "last.pt").is_file() and owner(run) is None  # saved, and no process holds it
    assert not (tmp_path / "headed-trial001").exists()  # no trial started after the reader left


def test_tune_table_into_a_closed_stdout_ends_quietly_with_141(synthetic_root, tmp_path):
    done = with_closed_stdout("tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY[:-2],
                              "--epochs", "1", "--search", "lr=1e-3:3e-2:log", "--trials", "1")
    assert (done.returncode, done.stderr) == (141, "")


def into_a_full_disk(*args: str) -> subprocess.CompletedProcess:
    """``mnist-tui ARGS`` writing to /dev/full: every write fails with ENOSPC."""
    with open("/dev/full", "w") as full:
        return console_script(args, full.fileno())


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")


@needs_dev_full
@pytest.mark.parametrize("command", [["eval", "--json"], ["eval"], ["runs"], ["runs", "--json"]])
def test_a_full_disk_on_stdout_is_one_line_and_exit_1(command, finished_run, synthetic_root):
    name, *flags = command
    target = [str(finished_run)] if name == "eval" else []
    done = into_a_full_disk(name, *target, "--checkpoints", str(finished_run.parent),
                            *(["--data-dir", str(synthetic_root)] if name == "eval" else []), *flags)
    assert (done.returncode, done.stderr) == (1, "mnist-tui: cannot write the output: No space left on device\n")


@needs_dev_full
@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "progress-bar"])
def test_train_onto_a_full_disk_stops_saves_and_says_why(output, synthetic_root, tmp_path):
    done = into_a_full_disk("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                            "--run-name", "r", *output)
    run = tmp_path / "r"
    assert done.returncode == 1, done.stderr
    assert done.stderr == (f"mnist-tui: cannot write the output (No space left on device): stopped in epoch 1 and "
                           f"saved {run / 'last.pt'}; resume with: mnist-tui train --resume {run} "
                           f"--data-dir {synthetic_root}\n")
    assert load_checkpoint(run / "last.pt")["config"]["epochs"] == 2 and owner(run) is None


@needs_dev_full
def test_tune_json_onto_a_full_disk_starts_no_trial_and_says_why(synthetic_root, tmp_path):
    done = into_a_full_disk("tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY[:-2],
                            "--epochs", "1", "--search", "lr=1e-3:3e-2:log", "--trials", "2", "--study", "full",
                            "--json")
    assert (done.returncode, done.stderr) == (1, "mnist-tui: cannot write the output (No space left on device): "
                                                 "stopping; running trials save last.pt and are marked stopped\n")
    assert not (tmp_path / "full-trial000").exists()


@needs_dev_full
@pytest.mark.parametrize("flags", [["--help"], ["runs", "--help"], ["--version"]])
def test_help_and_version_onto_a_full_disk_say_so(flags):
    done = into_a_full_disk(*flags)
    assert (done.returncode, done.stderr) == (1, "mnist-tui: cannot write the output: No space left on device\n")


@pytest.mark.parametrize("flags", [["--help"], ["--version"]])
def test_help_and_version_into_a_closed_pipe_end_quietly(flags):
    done = with_closed_stdout(*flags)
    assert (done.returncode, done.stderr) == (141, "")
