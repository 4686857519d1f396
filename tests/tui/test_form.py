"""Pilot tests of the form made from the config's field specs: labels, every field, run name, data limits."""

from __future__ import annotations

from textual.widgets import Input, Label, Select, Static

from mnist_tui.core.config import FIELD_SPECS, field_label
from mnist_tui.tui.widgets.hparam_form import HParamForm

from .test_app import SIZE, ready, set_field


async def test_every_config_field_has_a_row_with_its_label(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        labels = [str(label.render()) for label in form.query(Label)]
        # each label whole on its one line ("threads (0=auto)" wrapped and read "threads": walk40 F4)
        drawn = [label.render_lines(label.region.reset_offset)[0].text.strip() for label in form.query(Label)]
        for name in FIELD_SPECS:
            assert form.query_one(f"#field-{name}") is not None
            assert field_label(name) in labels
            assert field_label(name) in drawn, (field_label(name), drawn)
        assert "run name" in labels
        # the fields the form used to lack: beta2 and batchnorm, read into the config
        app.query_one("#field-batchnorm", Select).value = "off"
        await set_field(pilot, app, "beta2", "0.95")
        config, errors = form.read()
        assert errors == {} and config.batchnorm is False and config.beta2 == 0.95


async def test_the_run_name_names_the_run_folder_and_a_bad_one_is_refused(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "run_name", "../escape")
        error = app.query_one("#error-run_name", Static)
        assert error.display and "must not start with '.'" in str(error.render())
        await pilot.press("f5")
        await pilot.pause()
        assert app.run_state == "idle" and app.focused.id == "field-run_name"
        await set_field(pilot, app, "run_name", "my-first")
        await pilot.press("f5")
        await app.wait_for_event("finished")
        await ready(pilot, app)
        assert (app.checkpoints_dir / "my-first" / "last.pt").is_file()
        assert app.query_one("#field-run_name").value == ""  # the next run gets its own name


async def test_a_batch_larger_than_the_training_set_is_refused_once_the_data_is_known(make_app):
    app = make_app()  # 600 synthetic training digits, 100 held out for validation
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "batch_size", "501")
        error = str(app.query_one("#error-batch_size", Static).render())
        assert "batch size must be at most the 500 digits left to train on" in error
        await set_field(pilot, app, "batch_size", "500")
        assert "batch_size" not in app.query_one(HParamForm).errors


async def test_a_config_loaded_into_the_form_does_not_keep_an_old_preset_name(make_app):
    from mnist_tui.core.config import PRESETS

    app = make_app(preset="seed-mlp")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        form.set_config(PRESETS["seed-mlp"], "seed-mlp")
        await pilot.pause()
        assert app.query_one("#preset", Select).value == "seed-mlp"
        form.set_config(PRESETS["fast"].replace(epochs=3), None)  # as Runs' f and Tune's Use best do
        await pilot.pause()
        assert app.query_one("#preset", Select).value == Select.NULL  # reads (custom), not seed-mlp
        form.set_config(PRESETS["fast"], None)  # a config that is a preset is named as it
        await pilot.pause()
        assert app.query_one("#preset", Select).value == "fast"


async def test_an_explicit_preset_starts_the_form_from_that_preset_not_the_last_edited_copy(make_app, settings_path):
    from mnist_tui.core.config import PRESETS
    from mnist_tui.tui.settings import save_form

    save_form(settings_path, "fast", PRESETS["fast"].replace(epochs=3, lr=0.002))  # fast, edited, then run
    app = make_app(preset="fast")  # mnist-tui --preset fast
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one("#field-epochs", Input).value == "1"  # fast's own values
        assert app.query_one("#field-lr", Input).value == "0.015"
        assert app.query_one("#preset", Select).value == "fast"
    again = make_app()  # mnist-tui: the last values used
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.query_one("#field-epochs", Input).value == "3"
        assert again.query_one("#field-lr", Input).value == "0.002"


async def test_a_bad_run_name_typed_in_its_field_shows_its_message_in_view(make_app):
    """The run name is the form's last row: its message came below the visible area, and the status cut it."""
    from mnist_tui.tui.widgets.progress import ProgressLine

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        field = app.query_one("#field-run_name", Input)
        field.focus()
        await pilot.pause()
        await pilot.press(*"my run!")
        await pilot.pause()
        error = app.query_one("#error-run_name", Static)
        wanted = "run name: ' ' and '!' not allowed; use A-Z a-z 0-9 . _ -"
        assert str(error.render()) == wanted
        assert form.scrollable_content_region.contains_region(error.region)  # on screen, not scrolled away
        form.scroll_home(animate=False)  # f5 from elsewhere in the form: the first error comes into view
        app.query_one("#field-lr", Input).focus()
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert app.focused is field and form.scrollable_content_region.contains_region(error.region)
        assert str(app.query_one(ProgressLine).render()).strip() == f"Cannot start: {wanted}"


async def test_fields_the_chosen_model_and_optimizer_do_not_use_are_dimmed(make_app):
    def dimmed(app) -> set[str]:
        form = app.query_one(HParamForm)
        rows = {name: form.query_one(f"#field-{name}").parent for name in FIELD_SPECS}
        shown = {name for name, row in rows.items() if row.query_one(Label).styles.text_opacity < 1}
        assert shown == {name for name, row in rows.items() if row.has_class("-unused")}
        return shown

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.query_one("#field-model", Select).value = "fastcnn"
        app.query_one("#field-optimizer", Select).value = "adam"
        await pilot.pause()
        config, _ = app.query_one(HParamForm).read()
        assert config.model == "fastcnn" and config.optimizer == "adam" and config.members == 1
        assert {"hidden", "nesterov", "member_views"} <= dimmed(app) and not {"width", "beta2"} & dimmed(app)
        app.query_one("#field-model", Select).value = "mlp"
        app.query_one("#field-optimizer", Select).value = "sgd"
        await pilot.pause()
        assert {"width", "beta2"} <= dimmed(app) and not {"hidden", "nesterov"} & dimmed(app)


async def test_a_config_put_in_the_form_keeps_its_exact_values(make_app):
    # "Use best" and Runs' f wrote a tuned lr to 6 digits (0.0179929): the run trained was another one
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        base, _ = form.read()
        tuned = base.replace(lr=0.017992906108979724, momentum=0.7954631444033993, weight_decay=0.0001)
        form.set_config(tuned)
        await pilot.pause()
        config, errors = form.read()
        assert errors == {} and config == tuned
        assert app.query_one("#field-weight_decay", Input).value == "0.0001"  # short where short is exact


async def test_a_bad_value_in_a_field_the_model_does_not_use_does_not_block_the_start(make_app):
    # an mlp has no width: "abc" left in the dimmed width field refused the start with "width: ..."
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        app.query_one("#field-model", Select).value = "mlp"
        await pilot.pause()
        before, _ = form.read()
        await set_field(pilot, app, "width", "-")
        await set_field(pilot, app, "step_size", "0")  # the schedule is not "step": unused too
        config, errors = form.read()
        assert errors == {} and config == before  # the last config's width stands in, unused
        # and the form says so, as a note: "abc" sat in the dimmed field without a word
        note = app.query_one("#error-width", Static)
        assert note.has_class("-shown", "-note") and str(note.render()).endswith(
            f"(unused now: {before.width} stands in)"), str(note.render())
        step = app.query_one("#error-step_size", Static)
        assert step.has_class("-note") and str(step.render()).endswith(f"(unused now: {before.step_size} stands in)")
        app.query_one("#field-model", Select).value = "cnn"  # now it is used: refused, with its message
        await pilot.pause()
        config, errors = form.read()
        assert config is None and set(errors) == {"width"}
        assert app.query_one("#error-width", Static).has_class("-shown")
        assert not app.query_one("#error-width", Static).has_class("-note")  # an error now, in its colour


async def test_a_form_that_cannot_be_kept_says_so_and_leaves_no_temporary_file(make_app, settings_path):
    # a folder where the settings file should be: the save failed without a word and left last-form.json.tmp
    from tests.tui.test_app import run_to_completion

    app = make_app()
    settings_path.unlink()
    settings_path.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "1")
        await pilot.press("f5")
        await run_to_completion(pilot, app)
        said = [str(n.message) for n in app._notifications]
        # and why, in words a person can act on ("Is a directory" left them to guess: walk40 F7)
        reason = f"{settings_path} is a folder; MNIST_TUI_SETTINGS names the settings file itself"
        assert f"The form's values were not kept for next time: {reason}" in said, said
    assert sorted(p.name for p in settings_path.parent.iterdir()) == ["last-form.json"]


async def test_a_number_field_takes_only_what_can_be_part_of_a_number(make_app):
    """As a run ended the keys went back to the learning rate, and "+" meant for steering was typed into it:
    "0.5+++++" (walk22 F10). Number fields now refuse a key that cannot be part of a number."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "lr", "0.5")
        await pilot.press("plus", "equals_sign", "minus", "x", "space")
        lr = app.query_one("#field-lr", Input).value
        await set_field(pilot, app, "lr", "-1e-3")  # a sign, a point and an exponent still go in
        typed = app.query_one("#field-lr", Input).value
        await set_field(pilot, app, "epochs", "2.5x")  # a whole number: no point
        epochs = app.query_one("#field-epochs", Input).value
        await set_field(pilot, app, "run_name", "a+b")  # a text field takes anything
        name = app.query_one("#field-run_name", Input).value
    assert lr == "0.5" and typed == "-1e-3" and epochs == "25" and name == "a+b"


async def test_a_number_pasted_with_spaces_around_it_goes_in_without_them(make_app):
    """A number copied from a terminal comes with a space or a newline around it; the number field refused the
    whole paste (its first line, " 0.01", cannot be part of a number), so nothing went in."""
    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        field = app.query_one("#field-lr", Input)
        field.focus()
        field.value = ""
        await pilot.pause()
        field.post_message(events.Paste("  0.01\n"))
        await pilot.pause()
        pasted = field.value
        field.value = "0.5"
        field.cursor_position = len(field.value)
        field.post_message(events.Paste(" abc "))  # still refused: not part of a number
        await pilot.pause()
        refused = field.value
    assert pasted == "0.01" and refused == "0.5"


async def test_the_form_is_checked_once_at_start_and_once_for_each_change(make_app, monkeypatch):
    """Each field reported its first value as a change as it mounted, and each report checked the whole form
    again: 33 checks at every start, each setting every field's classes (0.1 s of the start here)."""
    checks: list[str] = []
    revalidate = HParamForm.revalidate

    def counting(form):
        checks.append(form.query_one("#field-lr", Input).value)
        return revalidate(form)

    monkeypatch.setattr(HParamForm, "revalidate", counting)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        at_start = len(checks)
        await set_field(pilot, app, "lr", "0.5")  # end (no change), ctrl+u, then 0 . 5: four changes
        typed = checks[at_start:]
        error = str(app.query_one("#error-lr", Static).render())
    assert at_start <= 2, checks
    assert typed == ["", "0", "0.", "0.5"], typed
    assert error == ""


async def test_the_ready_line_names_the_dataset_the_form_has_chosen(make_app):
    """It said "MNIST 600 train / 200 test" after the dataset field said Fashion-MNIST, until f5 (walk34 F13)."""
    from mnist_tui.tui.widgets.progress import ProgressLine

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        line = app.query_one(ProgressLine)

        def shown() -> str:
            return line.render_lines(line.region.reset_offset)[0].text.strip()

        assert shown().startswith("Ready · MNIST 600 train / "), shown()
        app.query_one("#field-dataset", Select).focus()
        await pilot.press("enter", "down", "enter")  # the next dataset in the list
        await pilot.pause()
        assert app.query_one("#field-dataset", Select).value == "fashion-mnist"
        assert shown() == "Ready · Fashion-MNIST: read when f5 starts a run · ctrl+p commands", shown()
        await pilot.press("enter", "up", "enter")  # back: the digits read before are still in memory
        await pilot.pause()
        assert shown().startswith("Ready · MNIST 600 train / "), shown()


async def test_coming_back_to_train_gives_the_keys_to_the_field_left_and_shows_it(make_app):
    """After f2, f1 the keys went to the preset picker, scrolled out of view: enter opened it and one more key
    reset the whole form (walk40 F1)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        for _ in range(11):
            await pilot.press("tab")
        left = app.focused
        assert left.id == "field-lr", left.id  # (far enough down that the form has scrolled)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        await pilot.pause()
        back = app.focused
        form = app.query_one(HParamForm)
        shown = back is not None and form.region.contains_region(back.region)
    assert back is left, back
    assert shown


async def test_a_run_name_that_exists_is_said_under_its_field_as_it_is_typed(make_app):
    """Every other field is checked as it is typed; a taken run name only at f5 (walk40 F3)."""
    app = make_app()
    (app.checkpoints_dir / "taken").mkdir(parents=True)
    (app.checkpoints_dir / "taken" / "last.pt").write_bytes(b"")  # (a folder with no checkpoint is reused)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.query_one("#field-run_name", Input).focus()
        await pilot.press(*"taken")
        await pilot.pause()
        said = str(app.query_one("#error-run_name", Static).render())
        start_dimmed = app.query_one("#start-button").disabled
        await pilot.press("2")
        await pilot.pause()
        after = str(app.query_one("#error-run_name", Static).render())
    assert said == "taken exists: pick another run name, or resume it in Runs (r)", said
    assert start_dimmed
    assert after == "", after


async def test_up_and_down_go_from_field_to_field_and_enter_opens_a_picker(make_app):
    """Down on a number field scrolled the form (the focus went out of view); on a picker it opened the list
    (walk40 F10). Now up and down go to the field above or below; enter or space opens a picker."""
    from textual.widgets._select import SelectOverlay

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.query_one("#field-epochs", Input).focus()
        await pilot.press("down")
        below = app.focused.id
        await pilot.press("up", "up")
        above = app.focused.id  # the member views picker
        await pilot.press("down")
        await pilot.pause()
        opened_by_down = app.query_one("#field-member_views", Select).expanded
        await pilot.press("up", "enter")
        await pilot.pause()
        opened = app.query_one("#field-member_views", Select).expanded and isinstance(app.focused, SelectOverlay)
        await pilot.press("escape")
        form = app.query_one(HParamForm)
        for _ in range(40):
            await pilot.press("down")
        last = app.focused
        shown = form.region.contains_region(last.region)
    assert (below, above) == ("field-batch_size", "field-member_views")
    assert not opened_by_down and opened
    assert last.id == "field-run_name" and shown


async def test_a_resized_terminal_keeps_the_focused_field_in_view(make_app):
    """At 60x20 the focused run name was below the form's visible rows: what was typed went unseen (walk41 F5)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        field = app.query_one("#field-run_name", Input)
        field.focus()
        await pilot.pause()
        form = app.query_one(HParamForm)
        shown = []
        for size in ((60, 20), (100, 30), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.pause()
            shown.append(form.scrollable_content_region.contains_region(field.region))
    assert shown == [True, True, True], shown
