"""One writer per run: real processes racing for one run folder, a killed holder, dead folders reused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.cli import main
from mnist_tui.core import run_lock
from mnist_tui.core.runs import CheckpointError, delete_run, read_metrics, read_run

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100", "--threads", "1"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_tui.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def start_training(*args: str) -> tuple[subprocess.Popen, dict]:
    """`mnist-tui train --json ARGS` in the background, once it has taken its run (its first event)."""
    process = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", "train", "--json", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    line = process.stdout.readline()
    assert line, process.stderr.read()
    started = json.loads(line)
    assert started["event"] == "started", started
    return process, started


def stop(process: subprocess.Popen) -> int:
    """SIGTERM (it saves and exits 143, 128 + SIGTERM), reading what is left of its output."""
    process.send_signal(signal.SIGTERM)
    process.stdout.read()
    process.stderr.read()
    return process.wait(timeout=120)


@pytest.fixture
def finished_run(tmp_path, synthetic_root) -> tuple[list[str], Path]:
    """(--data-dir/--checkpoints args, run folder) of a finished one-epoch run "r"."""
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path / "runs")]
    assert main(["train", *common, *TINY, "--epochs", "1", "--run-name", "r", "--json"]) == 0
    return common, tmp_path / "runs" / "r"


def test_a_second_resume_is_refused_while_the_first_trains(finished_run):
    common, run = finished_run
    first, _ = start_training(*common, "--resume", "r", "--epochs", "500")
    try:
        assert read_run(run).state == "training"
        second = cli("train", *common, "--resume", "r", "--epochs", "2")
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert second.stderr == f"mnist-tui: {run} is being trained by process {first.pid}\n"
        with pytest.raises(CheckpointError, match="being trained by process"):
            delete_run(run)
    finally:
        assert stop(first) == 143
    epochs = [m["epoch"] for m in read_metrics(run)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 1  # each epoch once, in order
    assert read_run(run).state == "stopped"


def test_two_resumes_started_together_never_both_train(finished_run):
    common, run = finished_run
    args = [sys.executable, "-m", "mnist_tui.cli", "train", *common, "--resume", "r", "--epochs", "2", "--json"]
    processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
                 for _ in range(2)]
    outcomes = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _, _ in outcomes)
    epochs = [m["epoch"] for m in read_metrics(run)]
    assert not any("Traceback" in err for _, _, err in outcomes)
    assert epochs == list(range(1, len(epochs) + 1))  # never [1, 2, 2, 3, 3]
    if codes == [0, 2]:  # they overlapped: the loser says why, in one line
        loser = next(err for code, _, err in outcomes if code == 2)
        assert loser.count("\n") == 1 and ("is being trained by process" in loser
                                           or "was trained by another process meanwhile" in loser)
        assert epochs == [1, 2, 3]
    else:  # one ran after the other: the second trained two more epochs of its own
        assert codes == [0, 0] and epochs == [1, 2, 3, 4, 5]


def test_a_killed_holder_releases_its_run(tmp_path, synthetic_root):
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    process, started = start_training(*common, *TINY, "--epochs", "1000", "--run-name", "k")
    run = Path(started["run_dir"])
    info = read_run(run)
    assert info.state == "training" and info.error is None  # even before its first checkpoint is written
    assert run_lock.owner(run) == process.pid
    process.kill()  # SIGKILL: no handler runs, the kernel drops the lock
    process.wait(timeout=60)
    assert run_lock.owner(run) is None and read_run(run).state != "training"
    lock = run_lock.acquire(run, wait_s=0)
    lock.release()


def test_a_live_run_without_a_checkpoint_reads_as_training(tmp_path, tiny_config):
    run = tmp_path / "live"
    run.mkdir()
    (run / "config.json").write_text(tiny_config.to_json())
    lock = run_lock.acquire(run)
    try:
        info = read_run(run)
        assert info.state == "training" and info.error is None and info.model == "mlp"
    finally:
        lock.release()
    info = read_run(run)
    assert info.state == "?" and "no checkpoint" in info.error
    assert (info.model, info.epochs) == ("mlp", tiny_config.epochs)  # its config.json says so; it listed "?"


def test_the_app_child_reports_a_busy_run_in_one_line(finished_run, synthetic_root):
    from mnist_tui.core.events import Failed
    from mnist_tui.core.process import TrainingProcess

    common, run = finished_run
    lock = run_lock.acquire(run)  # this test process trains it, as far as anyone else can tell
    try:
        process = TrainingProcess(None, data_dir=synthetic_root, download=False, dataset="mnist",
                                  checkpoints_dir=run.parent, resume=str(run), extra_epochs=1)
        try:
            events = list(process.events())
        finally:
            process.close()
    finally:
        lock.release()
    assert isinstance(events[-1], Failed)
    assert events[-1].reason == f"{run} is being trained by process {os.getpid()}"


# --- a run folder killed before its first checkpoint ------------------------------------------------------


def killed_before_first_checkpoint(folder: Path, config_json: str) -> None:
    """What `kill -9` during the first epoch (or the first save) leaves: config, metrics, a temp file."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config_json)
    (folder / "points.jsonl").write_text('{"x": 0.5, "global_step": 8, "loss": 1.0, "accuracy": 0.5, "lr": 0.001}\n')
    (folder / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    run_lock.acquire(folder).release()  # its lock file, no longer held


def test_a_dead_folder_is_reused_by_its_name_and_cannot_be_resumed(tmp_path, synthetic_root, tiny_config, capsys):
    runs = tmp_path / "runs"
    killed_before_first_checkpoint(runs / "dead", tiny_config.to_json())
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(runs)]

    assert main(["train", *common, "--resume", "dead"]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint" in err and "nothing to resume" in err and "--run-name dead" in err

    assert main(["train", *common, *TINY, "--epochs", "1", "--run-name", "dead", "--json"]) == 0
    assert capsys.readouterr().err == "mnist-tui: reusing dead: it has no checkpoint\n"
    assert (runs / "dead" / "last.pt").is_file() and read_run(runs / "dead").finished
    assert not list((runs / "dead").glob("*.tmp")) and not list((runs / "dead").glob(".*.tmp"))
    assert [p["global_step"] for p in map(json.loads, (runs / "dead" / "points.jsonl").open())][0] != 8

    # once it has a checkpoint, the name is taken
    assert main(["train", *common, *TINY, "--epochs", "1", "--run-name", "dead"]) == 2
    assert "already exists; pick another --run-name or --resume it" in capsys.readouterr().err


def test_a_finished_run_whose_checkpoints_were_deleted_is_no_dead_end(finished_run, capsys):
    common, run = finished_run
    capsys.readouterr()
    for name in ("best.pt", "last.pt"):
        (run / name).unlink()
    (run / "embeddings-last-train.pt").write_bytes(b"the features n and M cached for the deleted weights")
    assert read_run(run).error == "no checkpoint: its checkpoints were deleted (--run-name r reuses the folder)"
    assert main(["train", *common, "--resume", "r"]) == 2
    assert "has no checkpoint (its checkpoints were deleted)" in capsys.readouterr().err

    (run / "model.onnx").write_bytes(b"the only copy of those weights")
    assert main(["train", *common, *TINY, "--epochs", "1", "--run-name", "r"]) == 2
    assert capsys.readouterr().err == (f"mnist-tui: {run} already exists and holds files of its own (model.onnx); "
                                       "pick another --run-name\n")
    assert (run / "model.onnx").is_file()

    (run / "model.onnx").unlink()  # what the Runs view advises now holds
    assert main(["train", *common, *TINY, "--epochs", "1", "--run-name", "r", "--json"]) == 0
    assert capsys.readouterr().err == "mnist-tui: reusing r: it has no checkpoint\n"
    assert (run / "last.pt").is_file() and read_run(run).finished and read_run(run).error is None
    assert not (run / "embeddings-last-train.pt").exists()  # the old weights' cache went with the reuse


def test_a_folder_holding_anything_else_is_not_reused(tmp_path, synthetic_root, tiny_config, capsys):
    runs = tmp_path / "runs"
    killed_before_first_checkpoint(runs / "mine", tiny_config.to_json())
    (runs / "mine" / "notes.txt").write_text("keep me")
    code = main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(runs), *TINY, "--run-name", "mine"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert (runs / "mine" / "notes.txt").read_text() == "keep me"


def test_the_next_process_to_take_a_run_removes_temp_files_a_kill_left(finished_run):
    common, run = finished_run
    left = [run / ".last.pt.k1ll3d.tmp", run / ".best.pt.x.tmp", run / ".metrics.jsonl.y.tmp"]
    for path in left:
        path.write_bytes(b"\0" * 1000)
    assert main(["train", *common, "--resume", "r", "--epochs", "1", "--json"]) == 0
    assert not any(path.exists() for path in left)
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]


def test_files_of_its_own_are_what_neither_training_nor_the_views_wrote(finished_run):
    from mnist_tui.core.runs import files_of_its_own

    _, run = finished_run
    (run / "embeddings-best-train.pt").write_bytes(b"a cache")
    (run / ".last.pt.x1.tmp").write_bytes(b"left by a kill")
    assert files_of_its_own(run) == []
    (run / "model.onnx").write_bytes(b"an export")
    (run / "notes").mkdir()
    assert files_of_its_own(run) == ["model.onnx", "notes"]


def test_check_writable_names_the_folder_that_takes_no_files(tmp_path, read_only):
    runs, run = tmp_path / "runs", tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    run_lock.check_writable(runs)
    run_lock.check_writable(runs, run)
    read_only(runs)
    erofs = "Read-only file system"
    with pytest.raises(run_lock.NotWritable, match=f"^{runs}: cannot write in the checkpoints folder: {erofs}$"):
        run_lock.check_writable(runs)
    with pytest.raises(run_lock.NotWritable, match=rf"^{runs / 'new'}: cannot write in the checkpoints folder "
                                                   rf"\({runs}, where it would be made\): {erofs}$"):
        run_lock.check_writable(runs / "new")
    with pytest.raises(run_lock.NotWritable, match=f"^{run}: cannot write in the run folder: {erofs}$"):
        run_lock.check_writable(runs, run)
    run_lock.check_writable(runs, runs / "missing")  # a run that is not there is said where it is read
    assert sorted(p.name for p in runs.iterdir()) == ["r"] and not any(run.iterdir())


def test_a_shipped_run_is_not_trained_in_place(tmp_path, synthetic_root, capsys):
    """`train --resume fast-pretrained` found the run shipped in the source tree and trained it there: what
    `predict` and `explain` use by default would have changed (walk21 F2)."""
    from mnist_tui.core.runs import REPO_CHECKPOINTS

    shipped = REPO_CHECKPOINTS / "fast-pretrained"
    before = {p.name: p.stat().st_mtime_ns for p in shipped.iterdir()}
    with pytest.raises(run_lock.NotWritable, match="fast-pretrained is a model shipped with mnist-tui"):
        run_lock.check_writable(tmp_path, shipped)
    assert main(["train", "--resume", "fast-pretrained", "--epochs", "1", "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root)]) == 2
    said = capsys.readouterr().err
    assert said.startswith("mnist-tui: fast-pretrained is a model shipped with mnist-tui") and "cp -r" in said, said
    assert said.count("\n") == 1
    assert {p.name: p.stat().st_mtime_ns for p in shipped.iterdir()} == before
