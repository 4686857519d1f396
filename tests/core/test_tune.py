"""mnist-tui tune end to end: real Optuna, real SQLite, real child processes, synthetic digits."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.cli import build_parser, main
from mnist_tui.commands.common import config_from_args
from mnist_tui.core.config import TrainConfig
from mnist_tui.core.tune_space import SpaceError, apply, parse_param, parse_space, train_command

optuna = pytest.importorskip("optuna")

TINY = ["--preset", "seed-mlp", "--hidden", "16", "--batch-size", "64", "--val-size", "100", "--threads", "1"]


def tune_args(root, checkpoints, *extra):
    return ["tune", "--data-dir", str(root), "--checkpoints", str(checkpoints), *TINY, *extra]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def study(synthetic_root, tmp_path_factory):
    """A 3-trial study run through the CLI once; the tests below read what it left."""
    checkpoints = tmp_path_factory.mktemp("tune")
    args = tune_args(synthetic_root, checkpoints, "--epochs", "2", "--search", "lr=1e-3:3e-2:log",
                     "--search", "batch_size=32,64", "--trials", "3", "--study", "s1", "--json")
    # -X importtime: what the study's own process imported (its trials' workers are other processes)
    code = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnist_tui.cli", *args], capture_output=True,
                          text=True, timeout=300)
    return checkpoints, code


def test_the_study_process_leaves_torch_to_its_trials(study):
    """It imported torch to check the data, 2-4 s before its first trial's worker imported it again."""
    _, done = study
    imported = [line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time")]
    assert "optuna" in imported and "torch" not in imported


def test_three_trial_study_leaves_tagged_runs_and_a_best_config(study, synthetic_root):
    checkpoints, done = study
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    last = lines[-1]
    assert last["event"] == "study_finished" and last["study"] == "s1" and last["trials"] == 3
    ended = [e for e in lines if e["event"] == "trial_ended"]
    assert sorted(e["number"] for e in ended) == [0, 1, 2] and all(e["state"] == "complete" for e in ended)
    assert last["best_value"] == max(e["value"] for e in ended)
    for event in ended:
        run = Path(event["run_dir"])
        assert run.parent == checkpoints and (run / "config.json").is_file() and (run / "best.pt").is_file()
        tag = json.loads((run / "tune.json").read_text())
        assert tag["study"] == "s1" and tag["trial"] == event["number"] and tag["storage"].endswith("tune.db")
        assert TrainConfig.from_json((run / "config.json").read_text()).lr == event["params"]["lr"]
    best_run = Path(last["best_run_dir"])
    assert json.loads((best_run / "tune.json").read_text())["trial"] == last["best_trial"]
    assert TrainConfig.from_json((best_run / "config.json").read_text()).to_dict() == last["best_config"]
    assert "--lr" in last["train_command"]
    # pasted as printed, it trained on the default data folder and wrote the run away from the study's trials
    assert f"--data-dir {Path(synthetic_root).resolve()}" in last["train_command"]
    assert f"--checkpoints {checkpoints.resolve()}" in last["train_command"]
    loaded = optuna.load_study(study_name="s1", storage=f"sqlite:///{checkpoints / 'tune.db'}")
    assert loaded.best_value == last["best_value"]  # a real study: optuna-dashboard can open it


def test_a_hopeless_trial_is_pruned_or_fails_cleanly(study, synthetic_root):
    from mnist_tui.core.tune import Tuner

    checkpoints, _ = study
    from mnist_tui.core.config import preset

    base = preset("seed-mlp", hidden=(16,), epochs=2, val_size=100)  # the study's own base (threads aside)
    storage = f"sqlite:///{checkpoints / 'tune.db'}"
    optuna.load_study(study_name="s1", storage=storage).enqueue_trial({"lr": 1e-9, "batch_size": 64})
    tuner = Tuner(base, parse_space(["lr=1e-9:3e-2:log", "batch_size=32,64"]), checkpoints_dir=checkpoints,
                  data_dir=synthetic_root, study="s1", pruner="median", trials=1)
    events = list(tuner.run())
    ended = [e for e in events if e.kind == "trial_ended"]
    assert len(ended) == 1 and ended[0].number == 3 and ended[0].params["lr"] == 1e-9
    assert ended[0].state == "pruned", ended[0]  # an lr of 1e-9 learns nothing: below the median at epoch 1
    assert re.fullmatch(r"pruned after epoch 1 \(val accuracy \d+\.\d\d%\)", ended[0].reason)  # as tables write it
    assert (Path(ended[0].run_dir) / "last.pt").is_file()  # ended like a stopped run
    assert events[-1].kind == "study_finished" and events[-1].pruned == 1 and events[-1].trials == 4
    # and Runs and `runs` say so: it read "stopped", as if someone had stopped it
    from mnist_tui.core.runs import list_runs

    states = {run.name: run.state for run in list_runs(checkpoints)}
    assert states[Path(ended[0].run_dir).name] == "pruned"
    assert sorted(states.values()) == ["finished"] * 3 + ["pruned"]


def test_a_worker_with_other_fixed_values_is_refused_by_the_study(study, synthetic_root, capsys):
    """Trials are comparable only with the same fixed fields: s1 tunes lr and batch size of a 2-epoch MLP."""
    checkpoints, done = study
    assert done.returncode == 0, done.stderr
    storage = f"sqlite:///{checkpoints / 'tune.db'}"
    before = len(optuna.load_study(study_name="s1", storage=storage).trials)
    capsys.readouterr()
    code = main(tune_args(synthetic_root, checkpoints, "--epochs", "1", "--hidden", "32", "--search",
                          "lr=1e-3:3e-2:log", "--trials", "1", "--study", "s1"))
    assert code == 2 and capsys.readouterr().err == (
        "mnist-tui: study 's1' tunes another config (--hidden 16 there, 32 here; --epochs 2 there, 1 here): "
        "give the same settings, or another --study\n")
    assert len(optuna.load_study(study_name="s1", storage=storage).trials) == before  # nothing ran
    # the searched fields' fixed values and the machine's threads may differ: it joins
    assert main(tune_args(synthetic_root, checkpoints, "--epochs", "2", "--lr", "0.5", "--threads", "2", "--search",
                          "lr=1e-3:3e-2:log", "--search", "batch_size=32,64", "--trials", "1", "--study", "s1",
                          "--pruner", "none", "--json")) == 0
    assert len(optuna.load_study(study_name="s1", storage=storage).trials) == before + 1


@pytest.mark.parametrize("search, said", [
    ("batch_size=32,64,128", "batch_size=32,64 there, batch_size=32,64,128 here"),
    ("lr=1e-3:3e-2", "lr=0.001:0.03:log there, lr=0.001:0.03 here"),
])
def test_a_worker_searching_another_space_is_refused_by_the_study(study, synthetic_root, capsys, search, said):
    """The README's second tune example in the first one's default study: Optuna's "CategoricalDistribution does
    not support dynamic value space" failed trial -1, and the study said it was interrupted (exit 130)."""
    checkpoints, done = study
    assert done.returncode == 0, done.stderr
    storage = f"sqlite:///{checkpoints / 'tune.db'}"
    before = len(optuna.load_study(study_name="s1", storage=storage).trials)
    capsys.readouterr()
    other = "lr=1e-3:3e-2:log" if search.startswith("batch") else "batch_size=32,64"
    code = main(tune_args(synthetic_root, checkpoints, "--epochs", "2", "--search", search, "--search", other,
                          "--trials", "1", "--study", "s1"))
    assert code == 2 and capsys.readouterr().err == (
        f"mnist-tui: study 's1' searched another space ({said}): give the same --search, or another --study\n")
    assert len(optuna.load_study(study_name="s1", storage=storage).trials) == before  # nothing ran
    # with --json, a refused worker prints no tune_started (a reader took it for a study under way): stderr alone
    code = main(tune_args(synthetic_root, checkpoints, "--epochs", "2", "--search", search, "--search", other,
                          "--trials", "1", "--study", "s1", "--json"))
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "searched another space" in err


def test_a_study_that_fails_by_itself_says_why_and_is_not_called_interrupted(synthetic_root, tmp_path, capsys,
                                                                             monkeypatch):
    """Another worker that joined the new study first with other batch-size choices (both saw no trials yet):
    Optuna's ValueError was a trial -1 "failed", then "interrupted" and exit 130, as if Ctrl+C was pressed."""
    from mnist_tui.core.tune import Tuner

    opened = Tuner.open_study

    def another_worker_first(self):
        study = opened(self)
        batch = optuna.distributions.CategoricalDistribution([32, 128])
        study.add_trial(optuna.trial.create_trial(params={"batch_size": 128}, distributions={"batch_size": batch},
                                                  value=0.5))
        return study

    monkeypatch.setattr(Tuner, "open_study", another_worker_first)
    code = main(tune_args(synthetic_root, tmp_path, "--epochs", "1", "--search", "batch_size=32,64", "--trials", "1",
                          "--study", "raced", "--json"))
    captured = capsys.readouterr()
    finished = json_lines(captured.out)[-1]
    assert finished["event"] == "study_finished" and not finished["interrupted"]
    assert finished["error"] == "ValueError: CategoricalDistribution does not support dynamic value space."
    assert not any(line.get("number") == -1 for line in json_lines(captured.out))
    assert code == 1 and captured.err == ("mnist-tui: the study stopped: ValueError: CategoricalDistribution does not "
                                          "support dynamic value space.\n")


def test_the_default_study_is_the_presets_name_only_for_the_preset_itself():
    from mnist_tui.core.config import preset
    from mnist_tui.core.tune_space import default_study

    assert default_study(preset("fast"), "fast") == "mnist-fast"
    assert default_study(preset("fast", threads=2, device="cpu"), "fast") == "mnist-fast"  # the machine's own
    assert default_study(preset("fast", dataset="kmnist"), "fast") == "kmnist-fast"
    assert default_study(preset("fast", lr=0.01), "fast", ("lr",)) == "mnist-fast"  # searched: its value is moot
    other = {default_study(preset("fast", lr=0.01), "fast"), default_study(preset("fast", model="mlp"), "fast")}
    assert len(other) == 2 and all(name.startswith("mnist-fast-") and len(name) == 15 for name in other)


@pytest.mark.parametrize("study, run", [("s1", "s1-trial007"), ("../x", "x-trial007"), ("--", "study-trial007"),
                                        ("my sweep", "my-sweep-trial007")])
def test_trial_runs_get_names_every_command_can_name(study, run, tmp_path):
    from mnist_tui.core.config import preset
    from mnist_tui.core.names import check_run_name
    from mnist_tui.core.tune import Tuner

    tuner = Tuner(preset("fast"), parse_space(["lr=1e-3:1e-2:log"]), checkpoints_dir=tmp_path, data_dir=None,
                  study=study)
    assert tuner._run_name(7) == run and check_run_name(run) is None


def test_two_workers_started_together_join_one_study(synthetic_root, tmp_path):
    args = tune_args(synthetic_root, tmp_path, "--epochs", "1", "--search", "lr=1e-3:3e-2:log", "--trials", "1",
                     "--study", "shared", "--pruner", "none", "--json")
    workers = [subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    numbers = [e["number"] for out, _ in outputs for e in json_lines(out) if e["event"] == "trial_ended"]
    assert sorted(numbers) == [0, 1]
    loaded = optuna.load_study(study_name="shared", storage=f"sqlite:///{tmp_path / 'tune.db'}")
    assert sorted(t.number for t in loaded.trials) == [0, 1]
    assert len(optuna.get_all_study_names(f"sqlite:///{tmp_path / 'tune.db'}")) == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "term", "hup"])
def test_ctrl_c_sigterm_or_sighup_stops_the_running_trial_saved_and_exits_128_plus_it(synthetic_root, tmp_path,
                                                                                       signum):
    """SIGTERM (a scheduler preempting a worker) and SIGHUP (its SSH session closing) did not stop cleanly: the
    worker died (143, 129) with its trial left running in the study (walk26 F2)."""
    args = tune_args(synthetic_root, tmp_path, "--epochs", "1000", "--search", "lr=1e-3:3e-2:log",
                     "--trials", "5", "--study", "stopme", "--json")
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    for line in worker.stdout:
        if json.loads(line)["event"] == "trial_epoch":  # the first trial is training
            break
    from mnist_tui.tui.widgets.tune_records import poll_trials  # the Tune view reads the study the same way

    # its run folder is held by the worker: running, not taken for a trial whose tune was killed
    assert [row["state"] for row in poll_trials(f"sqlite:///{tmp_path / 'tune.db'}", "stopme")[0]] == ["running"]
    worker.send_signal(signum)
    rest, err = worker.communicate(timeout=120)
    assert worker.returncode == 128 + signum, err
    assert "stopping: running trials save last.pt" in err
    lines = json_lines(rest)
    ended = [e for e in lines if e["event"] == "trial_ended"]
    # stopped by the user, not failed: its last.pt resumes it (Optuna's state is FAIL so nothing learns from it)
    assert len(ended) == 1 and ended[0]["state"] == "stopped" and "interrupted" in ended[0]["reason"]
    assert lines[-1]["event"] == "study_finished" and lines[-1]["interrupted"] is True
    assert lines[-1]["stopped"] == 1 and lines[-1]["failed"] == 0
    assert (Path(ended[0]["run_dir"]) / "last.pt").is_file()
    trial = optuna.load_study(study_name="stopme", storage=f"sqlite:///{tmp_path / 'tune.db'}").trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["stopped"] == "interrupted"
    assert "Traceback" not in err
    rows, _ = poll_trials(f"sqlite:///{tmp_path / 'tune.db'}", "stopme")
    assert [row["state"] for row in rows] == ["stopped"]


@pytest.mark.parametrize("spec,message", [
    # the field's own words after its name (the CLI may spell the name as its label and flag)
    ("lr=0:1", "must be > 0 and <= 10, got 0"),
    ("nosuch=1,2", "'nosuch' is not a config field"),
    ("dropout=0.5:0.1", "range must have LOW < HIGH"),
    ("lr=1e-3:1e-1:nonsense", "lr range's third part is 'log' or a STEP number, got 'nonsense'"),
    ("model=cnn,resnet", "must be one of mlp, lenet5, cnn, fastcnn, deepcnn, got 'resnet'"),
    ("batch_size=64,lots", "must be a whole number, got 'lots'"),
    ("lr", "--search takes FIELD=SPEC"),
    ("device=cpu,cuda", "is fixed for a whole study"),
    # one value searches nothing: it joined the default study as a search (walk30 F13)
    ("optimizer=sgd,", "has one value (sgd), which searches nothing: list two or more (optimizer=A,B), or set it "
                       "with --optimizer sgd"),
])
def test_invalid_search_exits_2_before_anything_runs(synthetic_root, tmp_path, capsys, spec, message):
    assert main(tune_args(synthetic_root, tmp_path / "runs", "--search", spec)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    # which flag said it: "mnist-tui: lr must be a number, got 'abc'" did not (walk40 F11)
    assert err.startswith(f"mnist-tui: --search {spec}: ") or spec == "lr", err
    assert not (tmp_path / "runs").exists()


def test_bad_storage_url_exits_2(synthetic_root, tmp_path, capsys):
    assert main(tune_args(synthetic_root, tmp_path, "--storage", "tune.db")) == 2
    assert "--storage takes an Optuna URL" in capsys.readouterr().err
    # a scheme no database driver answers to (it was SQLAlchemy's NoSuchModuleError, a traceback, exit 1)
    assert main(tune_args(synthetic_root, tmp_path, "--storage", "bogus://x")) == 2
    assert capsys.readouterr().err == ("mnist-tui: cannot open bogus://x: no database driver for 'bogus'; --storage "
                                       "takes sqlite:///FILE, postgresql://USER@HOST/DB or journal:PATH\n")


def test_an_unreachable_database_is_one_line_on_stderr_and_no_empty_table(synthetic_root, tmp_path, capsys):
    pytest.importorskip("psycopg")
    url = "postgresql://nobody@127.0.0.1:1/none"  # port 1: refused at once
    assert main(tune_args(synthetic_root, tmp_path, "--storage", url, "--search", "lr=1e-3:3e-2:log")) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no empty Trials table before the error
    assert err.startswith("mnist-tui: could not create or load study 'mnist-seed-mlp-")  # TINY is not the preset
    assert f"' in {url}: " in err
    assert err.count("\n") == 1 and "Connection refused" in err


@pytest.mark.parametrize("case", ["damaged tune.db", "journal folder"])
def test_a_damaged_study_file_or_a_folder_as_journal_is_one_line_not_a_traceback(case, synthetic_root, tmp_path,
                                                                                 capsys):
    # a tune.db left damaged (a crash, a full disk) gave two chained tracebacks and exit 1
    checkpoints = tmp_path / "ck"
    checkpoints.mkdir()
    if case == "damaged tune.db":
        (checkpoints / "tune.db").write_bytes(b"not a database at all" * 100)
        extra, said = [], "file is not a database"
    else:
        (tmp_path / "folder").mkdir()
        extra, said = ["--storage", f"journal:{tmp_path / 'folder'}"], "is a directory"
    assert main(tune_args(synthetic_root, checkpoints, "--search", "lr=1e-3:3e-2:log", *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnist-tui: c") and said in err and err.count("\n") == 1


@pytest.mark.parametrize("case", ["notes", "an SQLite file", "sqlite:///", "sqlite:///:memory:"])
def test_a_storage_that_cannot_keep_a_study_is_refused_before_it_is_written(case, synthetic_root, tmp_path, capsys):
    """journal: at a user's notes appended an Optuna line to them, then gave a traceback; at an SQLite file, another
    traceback (walk38 F1). SQLite in memory, or with no file, failed after a trial with "no such table" (F6)."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    db = tmp_path / "tune.db"
    optuna.create_study(study_name="x", storage=f"sqlite:///{db}")
    url = {"notes": f"journal:{notes}", "an SQLite file": f"journal:{db}"}.get(case, case)
    before = notes.read_bytes(), db.read_bytes()
    assert main(tune_args(synthetic_root, tmp_path, "--storage", url, "--search", "lr=1e-3:3e-2:log")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("is not an Optuna journal" in err if url.startswith("journal:") else
                                      f"cannot keep a study in {url}: give a file" in err), err
    assert (notes.read_bytes(), db.read_bytes()) == before and not (tmp_path / "runs").exists()


def test_specs_parse_to_ranges_and_choices():
    assert parse_param("lr=1e-4:1e-1:log") == parse_param("lr=0.0001:0.1:log")
    lr = parse_param("lr=1e-4:1e-1:log")
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-4, 0.1, True)
    assert parse_param("batch_size=64,128,256").choices == (64, 128, 256)
    assert parse_param("width=16:48:8").step == 8 and parse_param("width=16:48:8").kind == "int"
    assert parse_param("hidden=128-64,256").choices == ((128, 64), (256,))
    assert parse_param("batchnorm=true,false").choices == (True, False)
    for text in ("lr=1e-4:1e-1:log", "dropout=0:0.5", "model=cnn,lenet5", "hidden=128-64,256"):
        assert parse_param(parse_param(text).spec()) == parse_param(text)
    with pytest.raises(SpaceError) as info:
        parse_space(["lr=-1:1", "dropout=0:2"])
    assert set(info.value.errors) == {"lr", "dropout"}


def test_a_searched_float_is_trained_shown_and_printed_with_four_significant_digits():
    """Use best put lr 0.00664411297689613 in the form, and the train command printed it so."""
    class Trial:  # Optuna's suggest_float hands back the whole float
        def suggest_float(self, name, low, high, step=None, log=False):
            return 0.00664411297689613

    lr = parse_param("lr=1e-3:3e-2:log")
    assert lr.suggest(Trial()) == 0.006644
    config = apply(TrainConfig(), {"lr": 0.00664411297689613, "momentum": 0.7476000046677357, "batch_size": 256})
    assert (config.lr, config.momentum, config.batch_size) == (0.006644, 0.7476, 256)
    assert "--lr 0.006644 " in train_command(config, "fast") + " "


def test_train_command_reproduces_the_config():
    from mnist_tui.core.config import PRESETS

    config = apply(PRESETS["seed-mlp"], {"lr": 0.0123456789, "batch_size": 512, "hidden": "256-128"})
    command = train_command(config, "seed-mlp")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert config_from_args(args) == config


def test_train_command_leaves_out_what_the_config_does_not_use(capsys):
    """A study searching model and hidden printed `--hidden 256,128` for a fastcnn: train noted it as ignored."""
    from mnist_tui.core.config import field_applies

    config = apply(TrainConfig(model="fastcnn"), {"lr": 0.0123456789, "batchnorm": False, "hidden": "256-128"})
    command = train_command(config, "fast")
    assert "--hidden" not in command and "--no-batchnorm" in command
    again = config_from_args(build_parser().parse_args(shlex.split(command)[1:]))
    assert "ignored" not in capsys.readouterr().err
    used = [name for name in config.to_dict() if field_applies(name, config)]
    assert all(getattr(again, name) == getattr(config, name) for name in used)


def test_journal_storage_opens_a_study(tmp_path):
    from mnist_tui.core.tune import load_or_create_study

    url = f"journal:{tmp_path / 'shared' / 'tune.log'}"
    (tmp_path / "shared").mkdir()
    first = load_or_create_study("j", url, optuna.pruners.NopPruner())
    first.enqueue_trial({"lr": 0.01})
    assert load_or_create_study("j", url, optuna.pruners.NopPruner())._study_id == first._study_id
    assert (tmp_path / "shared" / "tune.log").is_file()


def test_help_does_not_import_optuna():
    code = "import sys; from mnist_tui.cli import build_parser; build_parser(); print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("scheme", ["sqlite:///", "journal:"])
@pytest.mark.parametrize("folder, kind", [("a-file", "is not a folder"), ("typo/sub", "does not exist")])
def test_a_storage_whose_folder_is_not_there_is_one_line_and_exit_2(scheme, folder, kind, synthetic_root, tmp_path):
    # a typo in the folder (journal:/nonexistent/x.log) was made into folders, and the study landed there
    (tmp_path / "a-file").write_text("")
    url = f"{scheme}{tmp_path / folder / 'tune.db'}"
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *tune_args(synthetic_root, tmp_path, "--storage", url,
                                                                          "--trials", "1")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == f"mnist-tui: cannot open {url}: its folder {tmp_path / folder} {kind}\n"
    assert not (tmp_path / "typo").exists()


def stopped_trial(root: Path, checkpoints: Path, study: str) -> dict:
    """The trial_ended event of a study's first trial, stopped by Ctrl+C as it started (2 epochs left)."""
    args = tune_args(root, checkpoints, "--epochs", "2", "--batch-size", "8", "--search", "lr=1e-3:3e-2:log",
                     "--trials", "3", "--study", study, "--json")
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    for line in worker.stdout:
        if json.loads(line)["event"] == "trial_started":
            break
    worker.send_signal(signal.SIGINT)
    rest, err = worker.communicate(timeout=120)
    assert worker.returncode == 130, err
    [ended] = [e for e in json_lines(rest) if e["event"] == "trial_ended"]
    assert ended["state"] == "stopped", ended
    return ended


def test_a_stopped_trial_resumed_to_its_end_counts_in_its_study(synthetic_root, tmp_path):
    """Ctrl+C stops a trial (Optuna: FAIL, stopped); `train --resume` finishes its run later: the
    study gains a complete trial with the same parameters and the run's best val accuracy, which
    "Use best" and the sampler then see. Resuming it again adds nothing more."""
    ended = stopped_trial(synthetic_root, tmp_path, "later")
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    assert optuna.load_study(study_name="later", storage=storage).best_trials == []

    # named relative to the working folder: the study keeps the absolute path, as for its other trials (walk26 F8)
    relative = str(Path(ended["run_dir"]).relative_to(tmp_path))
    resume = ["train", "--resume", relative, "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *resume], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Tuning: trial #0 of study 'later' finished after its resume: added to the study as trial #1" in done.stdout
    result = json.loads((Path(ended["run_dir"]) / "result.json").read_text())
    study = optuna.load_study(study_name="later", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    stopped, resumed = study.trials
    assert resumed.params == stopped.params and resumed.value == result["best_val_accuracy"]
    assert resumed.user_attrs == {"run_dir": ended["run_dir"], "resumed_from": 0}
    assert study.best_trial.number == 1
    metrics = [json.loads(line) for line in (Path(ended["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    # its curve too: the Tune view's "val acc by epoch" left the resumed trial out
    assert resumed.intermediate_values == {m["epoch"]: m["val_accuracy"] for m in metrics} and len(metrics) == 2

    from mnist_tui.tui.widgets.tune_records import best_trial, poll_trials  # what the Tune view shows

    rows, _ = poll_trials(storage, "later")
    assert [(row["state"], row["resumed_from"]) for row in rows] == [("stopped", None), ("complete", 0)]
    assert best_trial({row["number"]: row for row in rows})["run_dir"] == ended["run_dir"]

    more = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *resume, "--epochs", "1"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert more.returncode == 0 and "Tuning:" not in more.stdout, more.stdout + more.stderr
    assert len(optuna.load_study(study_name="later", storage=storage).trials) == 2


KILLED = ["--epochs", "2", "--batch-size", "8", "--search", "lr=1e-3:3e-2:log", "--study", "killed", "--json"]


def killed_trial(synthetic_root, tmp_path) -> dict:
    """The trial_started event of study "killed"'s first trial, its tune killed (SIGKILL) as it started."""
    import fcntl

    args = tune_args(synthetic_root, tmp_path, *KILLED, "--trials", "3")
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    started = next(e for e in map(json.loads, worker.stdout) if e["event"] == "trial_started")
    worker.kill()
    worker.communicate(timeout=60)
    with open(Path(started["run_dir"]) / ".lock") as lock:  # the trial's child saves last.pt and lets go
        fcntl.flock(lock, fcntl.LOCK_EX)
    return started


def test_a_trial_left_running_by_a_killed_worker_counts_as_stopped_in_the_next_summary(synthetic_root, tmp_path,
                                                                                      capsys):
    """tune's summary left it out ("1 trial") while the Tune view counted it as stopped (walk26 F7)."""
    killed_trial(synthetic_root, tmp_path)
    assert main(tune_args(synthetic_root, tmp_path, *KILLED, "--trials", "1")) == 0
    summary = json_lines(capsys.readouterr().out)[-1]
    assert (summary["trials"], summary["stopped"], summary["run_here"]) == (2, 1, 1), summary


def test_a_trial_whose_worker_was_killed_completes_when_its_run_is_resumed(synthetic_root, tmp_path):
    """SIGKILL leaves the trial RUNNING in the storage for ever (the Tune view said "running"); its
    run, saved by the worker's child as it noticed, resumed to its end completes that same trial."""
    started = killed_trial(synthetic_root, tmp_path)
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    assert [t.state.name for t in optuna.load_study(study_name="killed", storage=storage).trials] == ["RUNNING"]
    from mnist_tui.tui.widgets.tune_records import poll_trials  # the Tune view said "running" for ever

    assert [row["state"] for row in poll_trials(storage, "killed")[0]] == ["stopped"]
    resume = ["train", "--resume", started["run_dir"], "--data-dir", str(synthetic_root), "--checkpoints",
              str(tmp_path)]
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *resume], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Tuning: trial #0 of study 'killed' finished after its resume (" in done.stdout
    [trial] = optuna.load_study(study_name="killed", storage=storage).trials
    result = json.loads((Path(started["run_dir"]) / "result.json").read_text())
    assert trial.state.name == "COMPLETE" and trial.value == result["best_val_accuracy"]
    metrics = [json.loads(line) for line in (Path(started["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert trial.intermediate_values == {m["epoch"]: m["val_accuracy"] for m in metrics} and len(metrics) == 2


def test_the_default_search_and_study_follow_the_configs_model(synthetic_root, tmp_path, capsys):
    # `tune --model mlp` on the default fast preset searched fast's width (an mlp has none) under "mnist-fast-…"
    args = ["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--model", "mlp",
            "--hidden", "16", "--val-size", "100", "--epochs", "1", "--threads", "1", "--trials", "1", "--json"]
    assert main(args) == 0
    events = json_lines(capsys.readouterr().out)
    started = next(e for e in events if e["event"] == "trial_started")
    assert set(started["params"]) == {"lr", "batch_size", "dropout", "hidden"}  # seed-mlp's search
    assert events[0]["study"].startswith("mnist-seed-mlp-")


def test_a_stopped_trial_keeps_its_last_accuracy_and_is_not_called_finished():
    """After Ctrl+C the table's 98.44% of the stopped trial read "-", and the summary said "1 trial finished
    (0 pruned, 0 failed, 1 stopped)" above "No trial has completed yet" (walk21 F15)."""
    from types import SimpleNamespace as Event

    from rich.console import Console

    from mnist_tui.commands.tune import TrialTable, print_summary

    table = TrialTable(["lr"])
    table.console = Console(width=80, record=True, file=open(os.devnull, "w"))
    table.live.console = table.console
    table.update(Event(kind="trial_started", number=0, params={"lr": 0.01}))
    table.update(Event(kind="trial_epoch", number=0, epoch=1, epochs=5, val_accuracy=0.9844))
    table.update(Event(kind="trial_ended", number=0, state="stopped", value=None, params={"lr": 0.01},
                       minutes=0.2, reason="interrupted"))
    table.close()
    row = next(line for line in table.console.export_text().splitlines() if "stopped" in line)
    assert "98.44%" in row, row
    console = Console(width=80, record=True, file=open(os.devnull, "w"))
    summary = Event(study="s", storage="sqlite:///t.db", trials=1, pruned=0, failed=0, stopped=1, run_here=1,
                    minutes=0.3, interrupted=True, best_value=None)
    print_summary(console, summary, None)
    said = " ".join(console.export_text().split())
    assert "1 trial (0 complete, 0 pruned, 0 failed, 1 stopped)" in said and "finished" not in said, said


def test_the_summary_says_when_the_best_run_is_on_another_machine(tmp_path):
    """A worker's summary named another machine's run folder as if it were here (walk26 F1)."""
    from types import SimpleNamespace as Event

    from rich.console import Console

    from mnist_tui.commands.tune import print_summary

    said = []
    for run_dir in (tmp_path, "/elsewhere/sweep-trial000"):
        console = Console(width=200, record=True, file=open(os.devnull, "w"))
        print_summary(console, Event(study="s", storage="postgresql://db", trials=4, pruned=0, failed=0, stopped=0,
                                     run_here=2, minutes=2.2, interrupted=False, best_value=0.99, best_trial=0,
                                     best_params={"lr": 0.007}, best_run_dir=str(run_dir)), "mnist-tui train")
        said.append(" ".join(console.export_text().split()))
    assert f"(lr=0.007); run {tmp_path} Train" in said[0]
    assert "(lr=0.007); run /elsewhere/sweep-trial000 on the worker that trained it (not on this machine)" in said[1]


def test_the_trials_show_a_searched_float_as_the_run_trains_it():
    """The table and the Tune view said lr=0.0125 for a trial trained (and reproduced) at --lr 0.01252 (walk26 F1)."""
    from types import SimpleNamespace

    from rich.console import Console

    from mnist_tui.commands.tune import TrialTable
    from mnist_tui.core.config import preset
    from mnist_tui.core.tune_space import apply
    from mnist_tui.tui.widgets.tune_records import params_text

    params = {"lr": 0.012518936, "batch_size": 128}
    assert apply(preset("fast"), params).lr == 0.01252
    assert params_text(params) == "lr=0.01252 batch_size=128"
    table = TrialTable(["lr", "batch_size"])
    table.console = Console(width=120, record=True, file=open(os.devnull, "w"))
    table.live.console = table.console
    table.update(SimpleNamespace(kind="trial_ended", number=0, state="complete", value=0.99, params=params, minutes=0.2,
                                 reason=""))
    table.close()
    shown = table.console.export_text()
    assert "lr=0.01252 batch_size=128" in shown
    # its time as `runs` says it: 12s, not "0.2" (or "0.0" for a 2 s trial) in a "min" column (walk41 F15)
    row = next(line for line in shown.splitlines() if "lr=0.01252" in line)
    assert "│  12s │" in row and "┃ time ┃" in shown, row


def test_the_live_trials_table_leaves_room_for_the_echo_of_ctrl_c():
    """On a table as wide as the terminal, the terminal's echo of ^C (after its last line, where the cursor is)
    wrapped to the next line, and the redraw under the "stopping" message left the title behind (walk30 F6)."""
    from types import SimpleNamespace

    from rich.console import Console

    from mnist_tui.commands.tune import TrialTable

    table = TrialTable(["lr", "batch_size", "momentum", "width"])
    table.console = Console(width=80, record=True, file=open(os.devnull, "w"))
    table.live.console = table.console
    table.update(SimpleNamespace(kind="trial_ended", number=0, state="stopped", value=None, minutes=0.7,
                                 params={"lr": 0.006187, "batch_size": 128, "momentum": 0.6514, "width": 16},
                                 reason="interrupted (last.pt saved; train --resume continues it)"))
    table.close()
    lines = [line for line in table.console.export_text().splitlines() if line.strip()]
    assert lines[0].strip() == "Trials" and max(map(len, lines)) == 80 - len("^C") - 1, lines


def test_a_worker_searching_other_fields_than_its_study_is_told(synthetic_root, tmp_path, capsys):
    """A worker searching batch_size joined a study that had searched lr without a word, its trials at the fixed
    lr mixed with the others (walk26 F12). It still joins (Optuna can mix them), and says so."""
    common = ("--epochs", "1", "--trials", "1", "--study", "mixed", "--pruner", "none", "--json")
    assert main(tune_args(synthetic_root, tmp_path, *common, "--search", "lr=1e-3:3e-2:log")) == 0
    assert "note:" not in capsys.readouterr().err
    assert main(tune_args(synthetic_root, tmp_path, *common, "--search", "batch_size=8,16")) == 0
    out, err = capsys.readouterr()
    assert "note: study 'mixed' searched lr; this worker searches batch_size (lr fixed at " in err, err
    [note] = [record for record in json_lines(out) if record["event"] == "note"]  # for the Tune view (walk30 F7)
    assert note["message"].startswith("study 'mixed' searched lr; this worker searches batch_size"), note


def test_a_reader_that_leaves_stops_the_trial_before_its_epoch_ends(synthetic_root, tmp_path):
    """`tune --json | head -2` trained on to the end of the epoch (minutes for `best`) before it noticed, at its
    next line, that nobody read it (walk21 F16); the Tune view's child outlived its app the same way."""
    import os
    from mnist_tui.core.runs import read_metrics

    read_end, write_end = os.pipe()
    args = ["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--preset", "best",
            "--epochs", "3", "--batch-size", "1", "--val-size", "100", "--threads", "1", "--trials", "1",
            "--search", "lr=1e-3:3e-3:log", "--study", "gone", "--json"]  # an epoch of 500 steps: seconds
    worker = subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        assert json.loads(reader.readline())["event"] == "tune_started"
        assert json.loads(reader.readline())["event"] == "trial_started"  # a trial trains: the reader goes
    err = worker.communicate(timeout=120)[1]
    assert worker.returncode == 141, err
    assert "output closed: stopping" in err and "Traceback" not in err
    [run] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert read_metrics(run) == [], "it trained a whole epoch after its reader had gone"
    assert (run / "last.pt").is_file()  # stopped and saved, as on Ctrl+C


def test_tuning_the_best_preset_holds_out_validation_digits_and_says_so(tmp_path, capsys):
    """The best preset trains on all 60,000 digits (val size 0); tuning it was refused for want of a validation
    split, and the Tune view opened on it could not start. Its trials hold out the usual 5,000 and say so; an
    explicit --val-size 0 is still refused."""
    from tests.synthetic import write_synthetic_mnist

    root = write_synthetic_mnist(tmp_path / "data", n_train=5_100, n_test=50)
    args = ["tune", "--data-dir", str(root), "--checkpoints", str(tmp_path / "runs"), "--preset", "best",
            "--members", "1", "--width", "4", "--epochs", "1", "--batch-size", "100", "--threads", "1", "--trials",
            "1", "--search", "lr=1e-3:2e-3:log"]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    from mnist_tui.core.config import preset
    from mnist_tui.core.tune_space import default_study

    started = next(r for r in json_lines(out) if r["event"] == "tune_started")
    asked = preset("best", members=1, width=4, epochs=1, batch_size=100, threads=1)
    assert started["study"] == default_study(asked, "best", ("lr",))  # the Tune view's name for it
    said = "the trials hold out 5,000 training digits for validation (the objective); the best preset trains on all"
    assert said in err and {"event": "note", "message": said + " of them"} in json_lines(out)
    [run] = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert json.loads((run / "config.json").read_text())["val_size"] == 5_000
    assert main([*args, "--val-size", "0"]) == 2
    assert "tuning needs a validation split" in capsys.readouterr().err


def test_a_running_trial_says_how_far_it_has_trained(synthetic_root, tmp_path, monkeypatch, capsys):
    """A 1-epoch trial said only "running" until it ended: for over 2 minutes on a loaded machine (walk32 F2)."""
    from types import SimpleNamespace as Event

    from rich.console import Console

    from mnist_tui.commands.tune import TrialTable
    from mnist_tui.core import tune
    from mnist_tui.core.config import preset

    monkeypatch.setattr(tune, "PROGRESS_SECONDS", 0.0)  # every point of the run (else at most one each 2 s)
    base = preset("seed-mlp", hidden=(16,), epochs=2, val_size=100)
    tuner = tune.Tuner(base, parse_space(["lr=1e-3:1e-2:log"]), checkpoints_dir=tmp_path, data_dir=synthetic_root,
                       study="progress", trials=1)
    events = list(tuner.run())
    done = [e.done for e in events if e.kind == "trial_progress"]
    assert done and done == sorted(done) and 0 < done[0] and done[-1] == 1.0, done
    assert events.index(next(e for e in events if e.kind == "trial_progress")) < \
        events.index(next(e for e in events if e.kind == "trial_ended"))

    table = TrialTable(["lr"])  # and the CLI's live table says it
    table.console = Console(width=80, record=True, file=open(os.devnull, "w"))
    table.live.console = table.console
    table.update(Event(kind="trial_started", number=0, params={"lr": 0.01}))
    table.update(Event(kind="trial_progress", number=0, done=0.4))
    table.close()
    assert any("40% trained" in line for line in table.console.export_text().splitlines())
