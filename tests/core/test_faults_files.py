"""The fault suite, files part: crafted or damaged checkpoints and run files, a full disk, file modes.

Every command that reads a checkpoint or a run folder gets each crafted file and must
answer with one line and exit 2 (or do its job), never a traceback; each corpus case
also goes through a real `python -m mnist_tui.cli` process. A full disk is a real
file-size limit (RLIMIT_FSIZE, no root needed) on a real training process, and, as
root, a real 400 KB tmpfs.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_tui.cli import main
from mnist_tui.core.checkpoints import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "mlp", "--hidden", "16", "--batch-size", "32", "--val-size", "100", "--threads", "1"]


def cli(*args: str, limit: int | None = None, umask: int | None = None, **kwargs) -> subprocess.Popen:
    """A real `mnist-tui ARGS` process; ``limit``: no file it writes may pass that many bytes (a full disk)."""

    def before() -> None:
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if umask is not None:
            os.umask(umask)

    return subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, preexec_fn=before, **kwargs)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def one_clear_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("mnist-tui: ") and "Traceback" not in err


@pytest.fixture(scope="module")
def base(tmp_path_factory, synthetic_root) -> tuple[Path, Path]:
    """(a finished one-epoch run folder to copy, a picture of a 7)."""
    folder = tmp_path_factory.mktemp("base")
    assert main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(folder), *TINY, "--epochs", "1",
                 "--run-name", "r", "--json"]) == 0
    seven = np.full((64, 64), 255, dtype=np.uint8)
    seven[14:20, 14:50] = 0
    for i in range(34):
        seven[18 + i, 44 - i // 2:50 - i // 2] = 0
    Image.fromarray(seven).save(folder / "seven.png")
    return folder / "r", folder / "seven.png"


# --- crafted checkpoints -----------------------------------------------------------------------------------


def _set(key, value):
    return lambda c: c.__setitem__(key, value)


def _config(key, value):
    return lambda c: c["config"].__setitem__(key, value)


CHECKPOINTS = {  # how the dict is changed, what the one line says
    "config.hidden is text": (_config("hidden", "abc"), "holds a damaged config"),
    "config is a string": (_set("config", "hello"), "holds no config (a str, not an object)"),
    "config is a list": (_set("config", [1, 2]), "holds no config (a list, not an object)"),
    "unknown model": (_config("model", "resnet"), "model must be one of"),
    "config.width is text": (_config("width", "32"), "must be a whole number, got '32'"),
    "config.lr is NaN": (_config("lr", math.nan), "must be a finite number, got nan"),
    "config.epochs is 0": (_config("epochs", 0), "must be between 1 and"),
    "model_state is a list": (_set("model_state", [1, 2]), "its model_state is not a set of named tensors"),
    "model_state is empty": (_set("model_state", {}), "its model_state is not a set of named tensors"),
    "model_state holds text": (_set("model_state", {"net.1.weight": "w"}), "not a set of named tensors"),
    "model_state of another net": (_set("model_state", {"x": torch.zeros(3)}), "does not fit a mlp model"),
    "epoch is -5": (_set("epoch", -5), "its epoch is -5, not a whole number >= 0"),
    "epoch is text": (_set("epoch", "x"), "its epoch is 'x', not a whole number >= 0"),
    "epoch is True": (_set("epoch", True), "its epoch is True"),
    "step is -1": (_set("step", -1), "its step is -1"),
    "step without rng": (lambda c: (c.__setitem__("step", 3), c.pop("rng", None)), "no usable random state"),
    "rng of the wrong size": (lambda c: (c.__setitem__("step", 3), c.__setitem__(
        "rng", {"torch": torch.zeros(3, dtype=torch.uint8), "aug": torch.zeros(3, dtype=torch.uint8)})),
        "no usable random state"),
    "optimizer_state is text": (_set("optimizer_state", "adam"), "its optimizer_state is a str, not a dict"),
    "metrics is a list": (_set("metrics", [0.5]), "its metrics is a list, not a dict"),
    "lr_factor is NaN": (_set("lr_factor", math.nan), "its lr_factor is nan"),
    "format from the future": (_set("format_version", 99), "has format version 99"),
    "not a dict": (lambda c: None, "is not an mnist-tui checkpoint"),  # replaced by a list below
}
COMMANDS = ["eval", "predict", "train --resume", "export", "explain"]


def _craft(folder: Path, base_run: Path, case: str) -> Path:
    """A copy of the base run whose best.pt and last.pt are changed as ``case`` says."""
    run = folder / "crafted"
    shutil.copytree(base_run, run)
    checkpoint = torch.load(base_run / "last.pt", weights_only=True)
    checkpoint["config"] = dict(checkpoint["config"])
    CHECKPOINTS[case][0](checkpoint)
    payload = [checkpoint] if case == "not a dict" else checkpoint
    for name in ("best.pt", "last.pt"):
        torch.save(payload, run / name)
    return run


def _args(command: str, run: Path, seven: Path, synthetic_root: Path, tmp_path: Path) -> list[str]:
    data = ["--data-dir", str(synthetic_root)]
    return {"eval": ["eval", str(run), *data], "predict": ["predict", str(run), str(seven)],
            "train --resume": ["train", "--resume", str(run), "--epochs", "1", *data, "--json"],
            "export": ["export", str(run), "--out", str(tmp_path / "m.onnx"), *data],
            "explain": ["explain", str(run), str(seven)]}[command]


@pytest.mark.parametrize("case", list(CHECKPOINTS))
def test_crafted_checkpoints_get_one_line_and_exit_2_from_every_reader(tmp_path, base, synthetic_root, capsys,
                                                                       case):
    run = _craft(tmp_path, base[0], case)
    expected = CHECKPOINTS[case][1]
    for command in COMMANDS:
        code = main(_args(command, run, base[1], synthetic_root, tmp_path))
        out, err = capsys.readouterr()
        assert code == 2 and one_clear_line(err) and expected in err, (command, err)
    assert not (tmp_path / "m.onnx").exists()
    # and through a real process, each command once (the first cases): the same words and exit code as above,
    # through the console script's own exit (each process imports torch: 4 s a case, for what one shows)
    index = list(CHECKPOINTS).index(case)
    if index < len(COMMANDS):
        code, out, err = finish(cli(*_args(COMMANDS[index], run, base[1], synthetic_root, tmp_path)))
        assert code == 2 and one_clear_line(err) and expected in err, (COMMANDS[index], err)


# --- damaged run files -------------------------------------------------------------------------------------

RUN_FILES = {  # file, content, what `runs` says of the run
    "metrics.jsonl of binary garbage": ("metrics.jsonl", bytes(range(256)) * 8, "finished"),
    "metrics.jsonl of bare numbers": ("metrics.jsonl", b"1\n2.5\nNaN\n[3]\n\"x\"\n", "finished"),
    "metrics.jsonl of odd values": ("metrics.jsonl", b'{"epoch": 1, "val_accuracy": "high", "seconds": "x"}\n'
                                    b'{"epoch": 1, "val_accuracy": 0.9, "val_loss": null}\n{"epoch": true}\n'
                                    b'{"epoch": -3, "val_accuracy": 0.1}\n{}\n', "finished"),
    "metrics.jsonl with NaN and infinity": ("metrics.jsonl", b'{"epoch": 1, "val_accuracy": NaN, "seconds": Infinity,'
                                            b' "lr": -Infinity}\n', "finished"),
    "config.json with wrong types": ("config.json", b'{"model": "mlp", "epochs": "three", "hidden": 5}', "unreadable"),
    "config.json of binary garbage": ("config.json", b"\xff\xfe\x00\x01garbage", "unreadable"),
    "config.json is a string": ("config.json", b'"hello"', "unreadable"),
    "config.json is empty": ("config.json", b"", "unreadable"),
    "config.json with lr NaN": ("config.json", None, "unreadable"),  # the run's own config, lr set to NaN
    "result.json of binary garbage": ("result.json", b"\xff\xfe\x00garbage", "stopped"),
    "result.json of odd values": ("result.json", b'{"test_accuracy": "x", "epochs": "y", "checkpoint": 5}',
                                  "finished"),
}


@pytest.mark.parametrize("case", list(RUN_FILES))
def test_damaged_run_files_are_read_or_refused_in_one_line(tmp_path, base, synthetic_root, capsys, case):
    runs = tmp_path / "runs"
    shutil.copytree(base[0], runs / "r")
    name, content, state = RUN_FILES[case]
    if content is None:
        config = json.loads((base[0] / "config.json").read_text())
        content = json.dumps({**config, "lr": math.nan}).encode()
    (runs / "r" / name).write_bytes(content)

    assert main(["runs", "--checkpoints", str(runs)]) == 0
    out, err = capsys.readouterr()
    assert "r " in out and not err and "not supported between" not in out
    assert main(["runs", "--checkpoints", str(runs), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    if state == "unreadable":  # a readable reason, for the Runs view and `runs`
        assert listed[0]["state"] == "unreadable" and listed[0]["error"].startswith(str(runs / "r" / "config.json"))
    else:
        assert listed[0]["state"] == state and listed[0]["error"] is None
    assert main(["eval", "r", "--checkpoints", str(runs), "--data-dir", str(synthetic_root), "--json"]) == 0
    capsys.readouterr()
    # resuming reads config, metrics and result: it trains, or says in one line why not
    code, out, err = finish(cli("train", "--resume", "r", "--epochs", "1", "--checkpoints", str(runs),
                                "--data-dir", str(synthetic_root), "--json"))
    assert (code == 0 and not err) or (code == 2 and one_clear_line(err)), err
    if code == 0:
        assert [m["epoch"] for m in map(json.loads, (runs / "r" / "metrics.jsonl").open())] == [1, 2] or \
            name == "metrics.jsonl"


def test_runs_json_is_json_whatever_the_runs_hold(tmp_path, base, capsys):
    shutil.copytree(base[0], tmp_path / "metrics-nan")
    (tmp_path / "metrics-nan" / "metrics.jsonl").write_text('{"epoch": 1, "val_accuracy": NaN, "seconds": Infinity}\n')
    shutil.copytree(base[0], tmp_path / "config-nan")
    config = json.loads((base[0] / "config.json").read_text())
    (tmp_path / "config-nan" / "config.json").write_text(json.dumps({**config, "lr": math.nan, "dropout": math.inf}))
    shutil.copytree(base[0], tmp_path / "no-config")
    (tmp_path / "no-config" / "config.json").unlink()
    assert main(["runs", "--checkpoints", str(tmp_path), "--json"]) == 0
    out, err = capsys.readouterr()
    runs = {r["name"]: r for r in json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))}
    assert runs["no-config"]["error"] == f"{tmp_path / 'no-config'} has no config.json"
    assert not err and runs["metrics-nan"]["best_val_accuracy"] is None and runs["metrics-nan"]["train_seconds"] == 0
    assert "must be a finite number, got nan" in runs["config-nan"]["error"]
    # as the table says (it said "?" for both)
    assert [(runs[n]["state"], runs[n]["model"]) for n in ("config-nan", "no-config")] == [("unreadable", None)] * 2


def test_a_run_trained_to_its_end_but_not_tested_shows_its_last_epoch(tmp_path, base, synthetic_root, capsys):
    shutil.copytree(base[0], tmp_path / "r")  # killed after its last epoch, before its test pass
    (tmp_path / "r" / "result.json").unlink()
    assert main(["train", "--resume", "r", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root)]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/1" not in out and "epoch 1/1" in out and "Test accuracy" in out


# --- a full disk -------------------------------------------------------------------------------------------

LIMIT = 60_000  # bytes: config, metrics and points fit; a checkpoint of the tiny MLP (~160 KB) does not


def test_full_disk_before_the_first_save_leaves_no_run_folder(tmp_path, synthetic_root):
    code, out, err = finish(cli("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                                "--epochs", "2", "--run-name", "full", limit=LIMIT))
    assert code == 2 and "Traceback" not in err and "enforce fail" not in err
    assert f"no space left on {tmp_path / 'full'} (needs about" in err and "nothing was saved" in err
    assert err.count("\n") == 1 and not any(tmp_path.iterdir())


def test_full_disk_keeps_the_last_good_checkpoint_and_the_resume_hint(tmp_path, base, synthetic_root):
    shutil.copytree(base[0], tmp_path / "r")
    before = (tmp_path / "r" / "last.pt").read_bytes()
    code, out, err = finish(cli("train", "--resume", "r", "--epochs", "2", "--checkpoints", str(tmp_path),
                                "--data-dir", str(synthetic_root), limit=LIMIT))
    assert code == 2 and "Traceback" not in err
    assert f"no space left on {tmp_path / 'r'}" in err and "the last good checkpoint is kept" in err
    assert f"resume with: mnist-tui train --resume {tmp_path / 'r'}" in err
    assert (tmp_path / "r" / "last.pt").read_bytes() == before and load_checkpoint(tmp_path / "r" / "last.pt")
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_more_epochs_that_find_the_disk_full_leave_the_finished_run_as_it_was(tmp_path, base, synthetic_root):
    """Its result.json was deleted, config.json, schedule.json and metrics.jsonl claimed an epoch no checkpoint
    held, and the hint, without --epochs, only tested the run again (walk35 F3)."""
    from mnist_tui.core.runs import read_run

    shutil.copytree(base[0], tmp_path / "r")
    files = {path.name: path.read_bytes() for path in (tmp_path / "r").iterdir() if path.is_file()}
    code, out, err = finish(cli("train", "--resume", "r", "--epochs", "2", "--checkpoints", str(tmp_path),
                                "--data-dir", str(synthetic_root), limit=LIMIT))
    assert code == 2 and "the last good checkpoint is kept" in err
    hint = err.splitlines()[-1].removeprefix("mnist-tui: free some space, then resume with: ")
    assert hint.startswith("mnist-tui train --resume ") and hint.endswith(" --epochs 2"), err
    after = {path.name: path.read_bytes() for path in (tmp_path / "r").iterdir() if path.is_file()}
    changed = sorted(name for name in files.keys() | after.keys() if files.get(name) != after.get(name)
                     and name != ".lock")  # (the lock file the run held stays, as after any run)
    assert changed in ([], ["points.jsonl"]), changed  # (the epoch's curve, cut at the next resume)
    run = read_run(tmp_path / "r")
    assert run.state == "finished" and (run.epochs_done, run.epochs) == (1, 1) and run.test_accuracy is not None
    code, out, err = finish(cli(*hint.split()[1:]))  # the hint, once there is room, trains the 2 epochs
    assert code == 0, err
    assert (read_run(tmp_path / "r").epochs_done, read_run(tmp_path / "r").schedules) == (3, (1, 2))


def test_ctrl_c_on_a_full_disk_keeps_the_resume_hint(tmp_path, base, synthetic_root):
    shutil.copytree(base[0], tmp_path / "r")
    process = cli("train", "--resume", "r", "--epochs", "500", "--checkpoints", str(tmp_path), "--data-dir",
                  str(synthetic_root), "--json", "--every-point", limit=LIMIT)
    for line in process.stdout:
        if json.loads(line)["event"] == "step":
            process.send_signal(signal.SIGINT)  # the stop's save finds the disk full
            break
    code, out, err = finish(process)
    assert code == 2 and "Traceback" not in err and "no space left on" in err
    assert f"resume with: mnist-tui train --resume {tmp_path / 'r'}" in err
    assert load_checkpoint(tmp_path / "r" / "last.pt")["epoch"] == 1


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 400 KB file system (tmpfs), for root where mounting is allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_real_full_disk(tiny_disk, synthetic_root):
    code, out, err = finish(cli("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tiny_disk), *TINY,
                                "--epochs", "5", "--run-name", "t"))
    assert code == 2 and "Traceback" not in err and f"no space left on {tiny_disk / 't'}" in err
    assert load_checkpoint(tiny_disk / "t" / "last.pt")["epoch"] >= 1
    assert not list((tiny_disk / "t").glob(".*.tmp"))


def test_a_checkpoint_that_almost_fits_a_full_disk_is_said_as_a_full_disk(tiny_disk):
    """A save that failed at its very end gave torch's "RuntimeError: basic_ios::clear: iostream error", and a run
    ended "run failed: RuntimeError ...", exit 1 (walk38 F3): every size around the free space is DiskFull, or fits."""
    from mnist_tui.core.atomic import DiskFull, write_atomic

    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    outcomes = set()
    for size in range(free - 8192, free + 1024, 256):
        payload = {"images": torch.zeros(size, dtype=torch.uint8), "labels": [1]}
        try:
            write_atomic(tiny_disk / "misclassified.pt", lambda tmp: torch.save(payload, tmp))
            outcomes.add("fits")
        except DiskFull:
            outcomes.add("full")
        (tiny_disk / "misclassified.pt").unlink(missing_ok=True)
        assert not list(tiny_disk.glob(".*.tmp"))
    assert outcomes == {"fits", "full"}


# --- kill -9 at random moments ----------------------------------------------------------------------------

KILLS = 5  # (seed 36: on the first save, mid-epoch early and late, on a later save)


def test_kill_9_at_random_moments_leaves_loadable_checkpoints_and_no_temp_files(tmp_path, synthetic_root):
    """SIGKILL a run at seeded random events (mid-epoch, or as it saves), start it again each time."""
    rng = random.Random(36)
    run = tmp_path / "k"
    common = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--json", "--every-point"]
    for attempt in range(KILLS + 1):
        if (run / "last.pt").is_file():
            process = cli("train", "--resume", "k", *common)
        else:  # killed before its first checkpoint: the name takes its folder again
            process = cli("train", *common, *TINY, "--epochs", "1000", "--run-name", "k")
        started = json.loads(process.stdout.readline())
        assert started["event"] == "started", process.stderr.read()
        assert not list(run.glob(".*.tmp"))  # the new holder removed what the kill left
        if attempt == KILLS:
            break
        on_save = rng.random() < 0.5
        count = rng.randrange(1, 4) if on_save else rng.randrange(1, 48)
        for line in process.stdout:  # kill on the n-th step point, or as the n-th epoch's last.pt is being written
            kind = json.loads(line)["event"]
            count -= kind == ("epoch" if on_save else "step")
            if count <= 0:
                process.kill()
                break
        finish(process)
        for checkpoint in run.glob("*.pt"):
            load_checkpoint(checkpoint)  # atomic saves: whatever is there loads
    process.send_signal(signal.SIGTERM)
    assert finish(process)[0] == 143  # 128 + SIGTERM: stopped, saved
    epochs = [m["epoch"] for m in map(json.loads, (run / "metrics.jsonl").open())]
    assert epochs == list(range(1, len(epochs) + 1))  # nothing counted twice


# --- file modes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_file_of_a_run_follows_the_umask(tmp_path, synthetic_root, umask, mode):
    code, out, err = finish(cli("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                                "--epochs", "1", "--run-name", "m", "--json", umask=umask))
    assert code == 0, err
    files = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert {"config.json", "metrics.jsonl", "points.jsonl", "last.pt", "best.pt", "result.json", "misclassified.pt",
            ".lock"} <= files.keys()
    assert files == {name: mode for name in files}, {k: oct(v) for k, v in files.items()}


# --- the counts the README quotes ------------------------------------------------------------------------


def fault_counts() -> dict[str, int]:
    """Cases the fault suite tries, by group (each one must survive for the suite to pass)."""
    from tests.core import test_faults as f, test_run_lock

    return {
        "non-finite numbers (CLI flags, validation)": len(f.FLOAT_FIELDS) * (len(f.NOT_FINITE) + 3),
        "bad run names": len(f.BAD_RUN_NAMES),
        "broken data folders": len(f.DATA_FAULTS),
        "bad images": len(f.NO_DIGIT) + len(f.UNREADABLE),
        "serve: foreign origins, bad tokens, tabs over the cap": len(f.FOREIGN_ORIGINS) + len(f.BAD_TOKENS) + 3,
        "crafted checkpoints x readers (+1 real process each)": len(CHECKPOINTS) * (len(COMMANDS) + 1),
        "damaged run files x (runs, runs --json, eval, resume)": len(RUN_FILES) * 4,
        "kill -9 at random moments": KILLS,
        "full disk (file-size limit; a real tmpfs as root)": 3 + (os.geteuid() == 0),
        "umasks": 3,
        "one writer per run, dead folders, temp files (test_run_lock.py)":
            sum(name.startswith("test_") for name in vars(test_run_lock)),
    }


if __name__ == "__main__":  # python -m tests.core.test_faults_files
    counts = fault_counts()
    for group, n in counts.items():
        print(f"{n:5d}  {group}")
    print(f"{sum(counts.values()):5d}  cases in all")


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_to_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path, base, synthetic_root, fmt):
    """ONNX died with a traceback, and TorchScript's writer aborted in C++ (exit 134) leaving its temp file
    (walk26 F5)."""
    if fmt == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")
    out = tmp_path / "out" / f"model.{fmt}"
    out.parent.mkdir()
    code, _, err = finish(cli("export", str(base[0]), "--format", fmt, "--out", str(out), "--data-dir",
                              str(synthetic_root), limit=LIMIT))
    assert code == 2 and one_clear_line(err), err
    assert f"no space left on {out.parent} (needs about" in err
    assert list(out.parent.iterdir()) == []


def test_tune_on_a_full_disk_stops_after_the_first_trial_that_cannot_save(tmp_path, synthetic_root):
    """A full disk is not the trial's hyperparameters: each later trial trained its epochs to fail the same way
    (walk26 F6)."""
    storage = f"journal:{tmp_path / 'tune.log'}"  # small: SQLite's file alone would pass the limit
    code, out, err = finish(cli("tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                                "--epochs", "1", "--search", "lr=1e-3:3e-2:log", "--trials", "3", "--storage",
                                storage, "--pruner", "none", "--json", limit=LIMIT))
    events = [json.loads(line) for line in out.splitlines()]
    ended = [e for e in events if e["event"] == "trial_ended"]
    assert code == 1 and "Traceback" not in err, err
    assert [e["state"] for e in ended] == ["failed"] and "no space left on" in ended[0]["reason"]
    assert events[-1]["event"] == "study_finished" and "no space left on" in events[-1]["error"]
    assert err.startswith("mnist-tui: the study stopped: no space left on") and err.count("\n") == 1, err


def test_runs_calls_a_run_with_a_truncated_checkpoint_unreadable(tmp_path, base, capsys):
    """It was listed as a healthy finished run while every command that reads its weights refused it
    (walk26 F10)."""
    shutil.copytree(base[0], tmp_path / "r")
    path = tmp_path / "r" / "last.pt"
    path.write_bytes(path.read_bytes()[:5000])
    assert main(["runs", "--checkpoints", str(tmp_path), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["state"] == "unreadable"
    assert listed["error"] == f"{path} is not a usable checkpoint: corrupt or truncated"


def test_map_on_a_full_disk_skips_its_cache_and_still_prints(tmp_path, base, synthetic_root):
    """The cache beside the checkpoint is only a speed-up: a full disk failed `map --json` (walk35 F6), where a
    read-only folder did not."""
    shutil.copytree(base[0], tmp_path / "r")
    code, out, err = finish(cli("map", str(tmp_path / "r"), "--json", "--data-dir", str(synthetic_root),
                                limit=1000))
    assert code == 0, err
    assert len(json.loads(out)["points"]) > 0 and not list((tmp_path / "r").glob("embeddings-*"))
