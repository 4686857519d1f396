"""A tuning trial stopped by Ctrl+C, resumed from the Runs view: the app says it joined its study."""

from __future__ import annotations

import pytest

from mnist_tui.core.formatting import percent
from mnist_tui.tui.panes.runs import RunsPane
from tests.core.test_tune import stopped_trial
from tests.tui.test_app import SIZE, ready, run_to_completion

optuna = pytest.importorskip("optuna")


async def test_a_stopped_trial_resumed_from_runs_joins_its_study(make_app, synthetic_root, tmp_path):
    ended = stopped_trial(synthetic_root, tmp_path / "runs", "fromruns")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        assert app.query_one(RunsPane).selected.path == ended["run_dir"]
        await pilot.press("r")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        said = [str(n.message) for n in app._notifications if n.title == "Tuning"]
        assert said == ["trial #0 of study 'fromruns' finished after its resume: added to the study as trial #1 "
                        f"({percent(optuna.load_study(study_name='fromruns', storage=f'sqlite:///{tmp_path}/runs/tune.db').trials[1].value)})"]
    study = optuna.load_study(study_name="fromruns", storage=f"sqlite:///{tmp_path / 'runs' / 'tune.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.best_trial.user_attrs == {"run_dir": ended["run_dir"], "resumed_from": 0}
